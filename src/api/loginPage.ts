// The login form for the pages (dashboard, Bull Board) when a token is set.
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginPage(next: string, problem?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>swarmq: log in</title>
<style>body{font:16px system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;background:#f6f7f9}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.75rem;min-width:18rem}
input,button{font:inherit;padding:.5rem}.problem{color:#b00020}</style></head>
<body><form method="post" action="/login">
<h1>swarmq</h1>
<label for="token">API token (SWARMQ_API_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escape(next)}">
${problem ? `<p class="problem" role="alert">${escape(problem)}</p>` : ''}
<button type="submit">Log in</button>
</form></body></html>`;
}
