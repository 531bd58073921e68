'use strict';
// Minimal Prometheus text exposition: counters, gauges and one histogram.
// Every series carries the release label so a promotion is visible in charts.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function esc(v) { return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n'); }
function labelText(labels) {
  const keys = Object.keys(labels);
  if (!keys.length) return '';
  return '{' + keys.map((k) => `${k}="${esc(labels[k])}"`).join(',') + '}';
}

class Registry {
  constructor(constLabels) {
    this.constLabels = constLabels;
    this.families = new Map();
  }
  family(name, type, help) {
    if (!this.families.has(name)) this.families.set(name, { type, help, series: new Map() });
    return this.families.get(name);
  }
  key(labels) { return JSON.stringify(Object.entries(labels).sort()); }
  inc(name, help, labels = {}, by = 1) {
    const f = this.family(name, 'counter', help);
    const all = { ...labels, ...this.constLabels };
    const k = this.key(all);
    const s = f.series.get(k) || { labels: all, value: 0 };
    s.value += by;
    f.series.set(k, s);
  }
  set(name, help, labels = {}, value) {
    const f = this.family(name, 'gauge', help);
    const all = { ...labels, ...this.constLabels };
    f.series.set(this.key(all), { labels: all, value });
  }
  observe(name, help, labels, seconds) {
    const f = this.family(name, 'histogram', help);
    const all = { ...labels, ...this.constLabels };
    const k = this.key(all);
    let s = f.series.get(k);
    if (!s) { s = { labels: all, counts: BUCKETS.map(() => 0), sum: 0, count: 0 }; f.series.set(k, s); }
    BUCKETS.forEach((b, i) => { if (seconds <= b) s.counts[i] += 1; });
    s.sum += seconds;
    s.count += 1;
  }
  /** Declares a family with no series yet, so it shows up at 0 from the start. */
  declare(name, type, help, labels) {
    const f = this.family(name, type, help);
    if (labels) {
      const all = { ...labels, ...this.constLabels };
      const k = this.key(all);
      if (!f.series.has(k)) f.series.set(k, { labels: all, value: 0 });
    }
  }
  render() {
    const out = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const s of f.series.values()) {
        if (f.type === 'histogram') {
          BUCKETS.forEach((b, i) => out.push(`${name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
          out.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
          out.push(`${name}_sum${labelText(s.labels)} ${s.sum}`);
          out.push(`${name}_count${labelText(s.labels)} ${s.count}`);
        } else {
          out.push(`${name}${labelText(s.labels)} ${s.value}`);
        }
      }
    }
    return out.join('\n') + '\n';
  }
}

module.exports = { Registry };
