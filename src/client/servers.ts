// The servers a client may call, in the order to try them: the one that answered last comes
// first (the leader, once found). Each call tries a copy of the order taken when it starts,
// so calls running side by side never skip a server because another one reordered them.

export interface Servers {
  /** The order to try now (a copy: the call may insert a leader a standby names). */
  list(): string[];
  /** `url` answered: try it first from now on. */
  prefer(url: string): void;
}

/** `http://host:port/` → `http://host:port` (paths are appended to it). */
export const baseOf = (url: string) => {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}`;
};

export function servers(urls: readonly string[]): Servers {
  let order = [...new Set(urls.map(baseOf))];
  return {
    list: () => [...order],
    prefer: (url) => {
      const base = baseOf(url);
      if (order[0] !== base) order = [base, ...order.filter((known) => known !== base)];
    },
  };
}
