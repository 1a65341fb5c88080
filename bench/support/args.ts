// Tiny flag parsing for benchmarks: `--name N` or `--name=N`.
export function intFlag(args: readonly string[], name: string, fallback: number, min = 1): number {
  let raw: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) raw = args[i + 1];
    else if (a.startsWith(`${name}=`)) raw = a.slice(name.length + 1);
  }
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} takes an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

export function listFlag(args: readonly string[], name: string): string[] | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a === name ? args[i + 1] : a.startsWith(`${name}=`) ? a.slice(name.length + 1) : undefined;
    if (v !== undefined) return v.split(',').map((s) => s.trim()).filter(Boolean);
  }
  return undefined;
}
