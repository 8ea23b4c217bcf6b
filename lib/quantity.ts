/**
 * Kubernetes quantities (`512Mi`, `20Gi`, `1.5G`, `1e9`, or a plain number) as numbers, for
 * capacity arithmetic. The schema's pattern has already vetted the syntax; a value that still
 * does not parse is an error naming it, never a silent zero.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:\d+(?:\.\d*)?|\.\d+))?$/.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a quantity: write a number with an optional unit, such as 512Mi or 20Gi`);
  const number = Number(match[1]);
  const suffix = match[2] ?? '';
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  const multiplier = BINARY[suffix] ?? DECIMAL[suffix];
  if (multiplier === undefined) throw new Error(`"${value}": unknown unit "${suffix}"`);
  return number * multiplier;
}

/** A quantity of bytes, rounded up to a whole byte. */
export function parseBytes(value: string | number): number {
  return Math.ceil(parseQuantity(value));
}
