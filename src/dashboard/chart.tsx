// The lifecycle view's chart (uPlot): calls/s, expiries and reclaims over the last 5 minutes
// (chart-data.ts buckets the stats samples live.ts keeps), resized with its box.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { buckets } from './chart-data.js';
import type { Sample } from './live.js';

const HEIGHT = 200;

/** An axis tick: `14:05` (seconds in, local time). */
const hourMinute = (seconds: number) => {
  const d = new Date(seconds * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

export function Chart({ samples, now }: { samples: Sample[]; now: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current!;
    const options: uPlot.Options = {
      width: Math.max(240, element.clientWidth),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: false },
      scales: { x: { time: true }, n: { range: (_u, _min, max) => [0, Math.max(4, max)] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' }, values: (_u, splits) => splits.map(hourMinute) },
        { label: 'calls/s', stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' }, size: 48 },
        { side: 1, scale: 'n', label: 'per 5 s', stroke: '#64748b', grid: { show: false }, ticks: { stroke: '#e2e8f0' }, size: 40 },
      ],
      series: [
        {},
        { label: 'calls/s', stroke: '#4f46e5', width: 2, fill: 'rgba(79, 70, 229, 0.08)', spanGaps: false },
        { label: 'expiries', scale: 'n', stroke: '#b45309', width: 1.5, points: { show: false } },
        { label: 'reclaims', scale: 'n', stroke: '#b91c1c', width: 1.5, dash: [4, 3], points: { show: false } },
      ],
    };
    plot.current = new uPlot(options, buckets([], Date.now()), element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(buckets(samples, now));
  }, [samples, now]);

  return <div class="chart" data-testid="chart" ref={box} role="img" aria-label="calls per second, expiries and reclaims over the last 5 minutes" />;
}
