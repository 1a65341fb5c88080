// The agent table's query: the search and filters a person set, and where in
// the pages they are. The server filters and pages (GET /api/agents); the page
// keeps the cursors it came through, so "previous" goes back exactly. Pure.

export const PAGE_SIZE = 50;

export interface AgentQuery {
  q: string;
  host: string;
  state: string;
  /** nextCursor of each page before this one, in order; empty on the first page. */
  cursors: readonly string[];
}

export const firstQuery: AgentQuery = { q: '', host: '', state: '', cursors: [] };

/** The query string for GET /api/agents (empty filters left out, so they are not 400s). */
export function agentsSearch(a: AgentQuery, limit = PAGE_SIZE): string {
  const p = new URLSearchParams();
  const q = a.q.trim();
  if (q) p.set('q', q.slice(0, 256));
  if (a.host) p.set('host', a.host);
  if (a.state) p.set('state', a.state);
  p.set('limit', String(limit));
  const cursor = a.cursors[a.cursors.length - 1];
  if (cursor !== undefined) p.set('cursor', cursor);
  return `?${p}`;
}

/** New filters start again at the first page. */
export function withFilters(a: AgentQuery, f: Partial<Pick<AgentQuery, 'q' | 'host' | 'state'>>): AgentQuery {
  return { ...a, ...f, cursors: [] };
}

export function nextPage(a: AgentQuery, nextCursor: string | null): AgentQuery {
  return nextCursor === null ? a : { ...a, cursors: [...a.cursors, nextCursor] };
}

export function previousPage(a: AgentQuery): AgentQuery {
  return { ...a, cursors: a.cursors.slice(0, -1) };
}

/** 1-based position of the page's first row. */
export function firstRow(a: AgentQuery, limit = PAGE_SIZE): number {
  return a.cursors.length * limit + 1;
}

export function isFiltered(a: AgentQuery): boolean {
  return a.q.trim() !== '' || a.host !== '' || a.state !== '';
}
