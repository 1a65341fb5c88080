// Redis's MONITOR feed for tests, on a plain socket. ioredis's monitor() can
// read a feed line as the reply to its own connect-time INFO when the server is
// busy ("Command queue state error", redis/ioredis#1981), which failed tests
// under load; here the feed starts only after MONITOR's own +OK.
import { connect } from 'node:net';

export interface MonitoredCommand {
  /** The client's address (host:port), or "lua" for a script's own calls. */
  source: string;
  /** The command name lower-cased, then its arguments as given. */
  cmd: string;
  args: string[];
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '\\': '\\', '"': '"' };

/** The quoted arguments of one feed line, unescaped as Redis escapes them (sdscatrepr). */
export function parseArgs(text: string): string[] {
  const args: string[] = [];
  let i = text.indexOf('"');
  while (i >= 0 && i < text.length) {
    let arg = '';
    for (i++; i < text.length && text[i] !== '"'; i++) {
      if (text[i] !== '\\') arg += text[i];
      else if (text[i + 1] === 'x') {
        arg += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
        i += 3;
      } else arg += ESCAPES[text[++i]!] ?? text[i];
    }
    args.push(arg);
    i = text.indexOf('"', i + 1);
  }
  return args;
}

/** One feed line (without its leading "+"), or undefined for anything else. */
export function parseFeedLine(line: string): MonitoredCommand | undefined {
  const m = /^[0-9.]+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
  if (!m) return undefined;
  const [cmd = '', ...args] = parseArgs(m[2]!);
  return { source: m[1]!, cmd: cmd.toLowerCase(), args };
}

/** Calls `onCommand` for every command Redis runs from now on; resolves once the feed has started. */
export async function monitorCommands(url: string, onCommand: (c: MonitoredCommand) => void): Promise<{ stop(): void }> {
  const { hostname, port, password, username } = new URL(url);
  const socket = connect(Number(port || 6379), hostname || '127.0.0.1');
  socket.setEncoding('latin1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    let buffered = '';
    // +OK for AUTH (when the URL has a password), then +OK for MONITOR; the feed follows.
    let oksToCome = password ? 2 : 1;
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\r\n'); nl >= 0; nl = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        if (line.startsWith('-')) reject(new Error(`MONITOR refused: ${line.slice(1)}`));
        else if (oksToCome > 0) {
          if (line === '+OK' && --oksToCome === 0) resolve();
        } else if (line.startsWith('+')) {
          const c = parseFeedLine(line.slice(1));
          if (c) onCommand(c);
        }
      }
    });
    if (password) socket.write(`AUTH ${username ? `${decodeURIComponent(username)} ` : ''}${decodeURIComponent(password)}\r\n`);
    socket.write('MONITOR\r\n');
  });
  socket.on('error', () => {});
  return { stop: () => socket.destroy() };
}
