// Chart.js (vendored, /static/vendor) wrappers: one chart per canvas, updated in place on refresh.
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
const charts = new Map();

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

function label(iso, bucketSeconds, spanSeconds) {
  const d = new Date(iso);
  if (bucketSeconds >= 4 * 604800) return d.toLocaleDateString(undefined, { year: "numeric", month: "short" });
  if (bucketSeconds >= 86400) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (spanSeconds <= 86400) return time;
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
}

function draw(id, config) {
  const canvas = document.getElementById(id);
  const existing = charts.get(id);
  if (existing) {
    existing.data = config.data;
    existing.update("none");
    return existing;
  }
  const chart = new window.Chart(canvas, config);
  charts.set(id, chart);
  return chart;
}

// A time series panel {bucket_seconds, t: [...], series: {name: [...]}} as stacked bars.
export function timeChart(id, panel, { stacked = true, names = {} } = {}) {
  const span = panel.t.length * panel.bucket_seconds;
  const datasets = Object.entries(panel.series).map(([name, values], i) => ({
    label: names[name] ?? name, data: values, backgroundColor: color(i), borderColor: color(i), borderWidth: 0,
  }));
  return draw(id, {
    type: "bar",
    data: { labels: panel.t.map((t) => label(t, panel.bucket_seconds, span)), datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: { x: { stacked, ticks: { maxTicksLimit: 12, autoSkip: true } }, y: { stacked, beginAtZero: true } },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    },
  });
}

// Horizontal bars: one value per label (tool usage distribution).
export function barChart(id, labels, values, title) {
  return draw(id, {
    type: "bar",
    data: { labels, datasets: [{ label: title, data: values, backgroundColor: labels.map((_, i) => color(i)) }] },
    options: {
      indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } },
    },
  });
}
