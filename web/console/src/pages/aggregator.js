// Aggregator: what the Data Aggregator's parts report: Parquet files written, uploads to the
// receiver and its spool, ZeroMQ collectors and the delivery of their commands.
import { h, set, num, bytes, card, message } from '../dom.js';
import { latest, series, stat } from '../history.js';
import { lineChart } from '../chart.js';

const sum = (snap, names, key) => {
  let v = 0, any = false;
  for (const n of names) { const x = stat(snap, n, key); if (x != null) { v += x; any = true; } }
  return any ? v : null;
};

export default function mount(root) {
  const body = h('div'), charts = h('div.chart-row');
  root.append(h('h1', 'Aggregator'), body, charts);
  let c1 = null, c2 = null;

  function update() {
    const snap = latest();
    if (!snap) return;
    const of = (type, kind) => snap.pipeline.components.filter(c => c.type === type && c.kind === kind).map(c => c.name);
    const pq = of('parquet', 'sink'), rc = of('receiver', 'sink'), zq = of('zmq', 'source'), cmd = of('commands', 'source');
    if (!pq.length && !rc.length && !zq.length && !cmd.length) {
      set(body, message('No aggregator components (zmq source, parquet sink, receiver sink, commands source) in this pipeline.'));
      return;
    }
    const f = (label, v, field, fmt = num) => card(label, h('span', { dataset: { field } }, fmt(v)));
    const section = (title, names, cards) => names.length ? h('section', h('h2', title, h('span.muted', ' ' + names.join(', '))), h('div.cards', cards)) : null;
    set(body, 
      section('Files written (parquet)', pq, [
        f('files written', sum(snap, pq, 'sluice_parquet_files_finished_total'), 'files_written'),
        f('bytes written', sum(snap, pq, 'sluice_parquet_bytes_written_total'), 'bytes_written', bytes),
        f('open files', sum(snap, pq, 'sluice_parquet_open_writers'), 'open_writers'),
        f('rows rejected', sum(snap, pq, 'sluice_parquet_rejected_total'), 'rejected')]),
      section('Uploads (receiver)', rc, [
        f('files uploaded', sum(snap, rc, 'sluice_receiver_uploaded_files_total'), 'uploads'),
        f('bytes uploaded', sum(snap, rc, 'sluice_receiver_uploaded_bytes_total'), 'uploaded_bytes', bytes),
        f('uploading now', sum(snap, rc, 'sluice_receiver_uploads_in_flight'), 'in_flight'),
        f('failures', sum(snap, rc, 'sluice_receiver_upload_failures_total'), 'upload_failures'),
        f('spool files', sum(snap, rc, 'sluice_receiver_spool_files'), 'spool_files'),
        f('spool size', sum(snap, rc, 'sluice_receiver_spool_bytes'), 'spool_bytes', bytes)]),
      section('Collectors (zmq)', zq, [
        f('messages', sum(snap, zq, 'sluice_zmq_messages'), 'zmq_messages'),
        f('bad messages', sum(snap, zq, 'sluice_zmq_bad_messages'), 'zmq_bad'),
        f('handshakes', sum(snap, zq, 'sluice_zmq_handshakes'), 'zmq_handshakes'),
        f('handshake failures', sum(snap, zq, 'sluice_zmq_handshake_failures'), 'zmq_handshake_failures')]),
      section('Command delivery', cmd, [
        f('collectors', sum(snap, cmd, 'sluice_commands_collectors'), 'collectors'),
        f('polls', sum(snap, cmd, 'sluice_commands_polls_total'), 'polls'),
        f('deliveries', sum(snap, cmd, 'sluice_commands_deliveries_total'), 'deliveries'),
        f('pings', sum(snap, cmd, 'sluice_commands_pings_total'), 'pings'),
        f('poll failures', sum(snap, cmd, 'sluice_commands_poll_failures_total'), 'poll_failures')]));
    if (!c1) c1 = lineChart(charts, { title: 'files written and uploaded', series: ['written', 'uploaded'], name: 'files' });
    c1.set(series(s => sum(s, pq, 'sluice_parquet_files_finished_total'), s => sum(s, rc, 'sluice_receiver_uploaded_files_total')));
    if (rc.length) {
      if (!c2) c2 = lineChart(charts, { title: 'spool (bytes)', series: ['spool'], name: 'spool' });
      c2.set(series(s => sum(s, rc, 'sluice_receiver_spool_bytes')));
    }
  }

  return { update, unmount() { if (c1) c1.destroy(); if (c2) c2.destroy(); } };
}
