// The lifecycle diagram on the page: the server's SVG (GET /v1/diagram.svg, drawn from the
// running machine) parsed and inlined, each state node and compound-state cluster made a
// focusable link to the task table filtered by it, and a count badge laid over each one from
// its getBBox. Imperative DOM: preact renders the empty container, this module fills it.
import type { Stats } from './types.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

export interface Badge {
  /** `leased`, `stale.grace`: the state path (contract: count-<path>). */
  path: string;
  /** Where the count comes from: byState for a top-level state, bySubstate for a nested leaf. */
  nested: boolean;
  /** The state's node or cluster, marked occupied when its count is not 0. */
  target: SVGGElement;
  rect: SVGRectElement;
  text: SVGTextElement;
  /** The badge's right edge and vertical centre, in the diagram's coordinates. */
  right: number;
  middle: number;
}

/** A badge's color, as the SVG draws the state (src/visualize/dot.ts palette): terminal green, trouble red, stale amber. */
const TONES: Record<string, string> = {
  completed: 'badge-terminal',
  compensated: 'badge-terminal',
  quarantined: 'badge-alarm',
  failed: 'badge-alarm',
  stale: 'badge-stale',
};

/** `task.stale.grace` → `stale.grace`; `cluster_task.stale` → `stale`; null for what is not a state. */
function statePathOf(title: string, cluster: boolean): string | null {
  const match = (cluster ? /^cluster_task\.(.+)$/ : /^task\.(.+)$/).exec(title.trim());
  if (!match || match[1]!.endsWith('__initial') || match[1]!.includes('->')) return null;
  return match[1]!;
}

/** Where a click or Enter on a state goes: the task table filtered by it. */
export const stateHash = (path: string) => (path.includes('.') ? `#/tasks?substate=${encodeURIComponent(path)}` : `#/tasks?state=${encodeURIComponent(path)}`);

/** Parses the SVG, puts it in `container` (replacing what was there) and lays the badges over it. */
export function inlineDiagram(container: HTMLElement, svgText: string, pick: (path: string) => void): Badge[] {
  const parsed = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const source = parsed.documentElement;
  if (source.nodeName !== 'svg' || parsed.getElementsByTagName('parsererror').length > 0) throw new Error('the server sent a diagram that is not SVG');
  const svg = document.importNode(source, true) as unknown as SVGSVGElement;
  // Scale with the page: the viewBox keeps the drawing's proportions.
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.setAttribute('role', 'group');
  svg.setAttribute('aria-label', 'Task lifecycle: each state with the number of tasks in it');
  for (const title of svg.querySelectorAll(':scope > g > title')) title.remove(); // the graph's own title, "task", as a tooltip everywhere
  container.replaceChildren(svg);

  const layer = svg.querySelector('g.graph') ?? svg;
  const overlay = document.createElementNS(SVG_NS, 'g');
  overlay.setAttribute('class', 'badges');
  overlay.setAttribute('aria-hidden', 'true');
  layer.appendChild(overlay);

  const badges: Badge[] = [];
  for (const cluster of [false, true]) {
    for (const target of svg.querySelectorAll<SVGGElement>(cluster ? 'g.cluster' : 'g.node')) {
      const path = statePathOf(target.querySelector('title')?.textContent ?? '', cluster);
      if (path === null) continue;
      const description = target.querySelector('a')?.getAttributeNS('http://www.w3.org/1999/xlink', 'title') ?? target.querySelector('a')?.getAttribute('xlink:title');
      target.setAttribute('tabindex', '0');
      target.setAttribute('role', 'link');
      target.setAttribute('data-state', path);
      target.classList.add('state-target');
      const go = () => pick(path);
      target.addEventListener('click', go);
      target.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          go();
        }
      });
      const box = target.getBBox();
      const badge = makeBadge(overlay, path, !cluster && path.includes('.'), target, box.x + box.width + 6, box.y + (cluster ? 0 : 2));
      target.setAttribute('aria-label', path);
      if (description) target.setAttribute('aria-description', description);
      badges.push(badge);
    }
  }
  return badges;
}

function makeBadge(overlay: SVGGElement, path: string, nested: boolean, target: SVGGElement, right: number, middle: number): Badge {
  const group = document.createElementNS(SVG_NS, 'g');
  const top = path.split('.')[0]!;
  group.setAttribute('class', `badge ${TONES[top] ?? ''}`);
  const rect = document.createElementNS(SVG_NS, 'rect');
  rect.setAttribute('rx', '8');
  rect.setAttribute('height', '16');
  rect.setAttribute('y', String(middle - 8));
  const text = document.createElementNS(SVG_NS, 'text');
  text.setAttribute('data-testid', `count-${path}`);
  text.setAttribute('y', String(middle + 4));
  text.setAttribute('text-anchor', 'middle');
  group.append(rect, text);
  overlay.appendChild(group);
  const badge: Badge = { path, nested, target, rect, text, right, middle };
  setBadge(badge, null);
  return badge;
}

/** `null`: no stats yet (the badge reads `…`, never a count it does not know). */
function setBadge(badge: Badge, value: number | null) {
  const label = value === null ? '…' : String(value);
  if (badge.text.textContent !== label) badge.text.textContent = label;
  const width = Math.max(20, label.length * 7 + 10);
  badge.rect.setAttribute('width', String(width));
  badge.rect.setAttribute('x', String(badge.right - width));
  badge.text.setAttribute('x', String(badge.right - width / 2));
  const occupied = value !== null && value > 0;
  badge.rect.parentElement!.classList.toggle('badge-occupied', occupied);
  badge.target.classList.toggle('occupied', occupied);
  badge.target.setAttribute('aria-label', value === null ? badge.path : `${badge.path}: ${value} ${value === 1 ? 'task' : 'tasks'}`);
}

/** Puts the counts of `stats` on the badges (contract: byState for states, bySubstate ?? 0 for nested leaves). */
export function updateBadges(badges: Badge[], stats: Stats) {
  for (const badge of badges) {
    const value = badge.nested ? (stats.bySubstate[badge.path] ?? 0) : (stats.byState[badge.path as keyof Stats['byState']] ?? 0);
    setBadge(badge, value);
  }
}
