// Plain-text tables for the terminal and Markdown tables for the README, from the same rows.

export type Cell = string | number;

export interface Table {
  title: string;
  headers: string[];
  rows: Cell[][];
  /** Lines printed under the table (what was skipped and why). */
  notes?: string[];
}

/** Numbers with a precision that suits their size; non-finite values as "n/a". */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const text = (cell: Cell) => (typeof cell === 'number' ? formatNumber(cell) : cell);
/** Numbers and figures such as "5.66×" or "12.0 ms" are right-aligned. */
const numeric = (cell: Cell | undefined) => typeof cell === 'number' || /^(n\/a|[\d.,]+ ?(×|ms|s|MiB)?)$/.test(cell ?? '');

export function renderText(table: Table): string {
  const cells = [table.headers, ...table.rows.map((row) => row.map(text))];
  const widths = table.headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[], raw: Cell[] | undefined) =>
    row
      .map((cell, column) => (raw !== undefined && numeric(raw[column]) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  const [head, ...body] = cells;
  return [
    table.title,
    line(head!, undefined),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...body.map((row, index) => line(row, table.rows[index])),
    ...(table.notes ?? []),
  ].join('\n');
}

export function renderMarkdown(table: Table): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const align = table.headers.map((_, column) => (table.rows.some((r) => numeric(r[column])) ? '---:' : '---'));
  const notes = table.notes?.length ? ['', ...table.notes.map((note) => `${note}  `)] : [];
  return [`**${table.title}**`, '', row(table.headers), row(align), ...table.rows.map((r) => row(r.map(text))), ...notes].join('\n');
}
