// Line charts with uPlot. The element carries data-points (how many x values it shows) so a
// test can see a chart grow.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#2f6fdf', '#e0712c', '#2a9d5c', '#c33c54', '#8a5cd0', '#7a7a7a'];

export function lineChart(parent, { title, series, height = 180, time = true, name }) {
  const el = document.createElement('div');
  el.className = 'chart';
  if (name) el.dataset.chart = name;
  parent.append(el);
  let plot = null, last = null;
  // the chart's own box (a grid cell), less its padding
  const widthOf = () => Math.max(280, (el.clientWidth || parent.clientWidth || 620) - 10);
  const make = () => new uPlot({
    title, width: widthOf(), height,
    scales: { x: { time } },
    series: [{}, ...series.map((s, i) => ({ label: s, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
    axes: [{}, { size: 60 }],
  }, last || [[], ...series.map(() => [])], el);
  let w = 0;
  const ro = new ResizeObserver(() => {
    if (el.clientWidth === w) return;
    w = el.clientWidth;
    if (plot) plot.setSize({ width: widthOf(), height });
  });
  ro.observe(el);
  return {
    el,
    set(data) {
      last = data;
      el.dataset.points = String(data[0].length);
      if (!plot) plot = make();
      else plot.setData(data);
    },
    destroy() { ro.disconnect(); if (plot) plot.destroy(); },
  };
}
