// A Server-Sent Events client for tests: fetch with a streamed body, parsed
// into messages (id, event, data) and comment lines, as an EventSource would.
export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

export interface SseStream {
  status: number;
  contentType: string | null;
  messages: SseMessage[];
  comments: string[];
  /** Resolves when `count` messages (in all) have arrived. */
  waitForMessages(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  waitForComment(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let buffer = '';
  const parse = () => {
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const msg: SseMessage = { data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) msg.id = line.slice(4);
        else if (line.startsWith('event: ')) msg.event = line.slice(7);
        else if (line.startsWith('data: ')) {
          msg.data += (hasData ? '\n' : '') + line.slice(6);
          hasData = true;
        }
      }
      if (hasData) messages.push(msg);
    }
  };
  if (res.body && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          parse();
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  const poll = async <T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    messages,
    comments,
    waitForMessages: (count, timeoutMs = 10_000) => poll(() => (messages.length >= count ? messages.slice(0, count) : undefined), timeoutMs, `${count} SSE messages`),
    waitForComment: (pattern, timeoutMs = 10_000) => poll(() => comments.find((c) => pattern.test(c)), timeoutMs, `an SSE comment matching ${pattern}`),
    close: () => abort.abort(),
  };
}
