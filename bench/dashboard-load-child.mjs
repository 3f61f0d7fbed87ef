// Load for the dashboard bench: STREAMS event streams held open and LOADERS connections that
// fetch the page in a loop, against the URL in argv[2], until the parent kills this process.
import http from 'node:http';

const url = new URL(process.argv[2]);
const STREAMS = Number(process.argv[3] ?? 30),
  LOADERS = Number(process.argv[4] ?? 8);
const agent = new http.Agent({ keepAlive: true, maxSockets: STREAMS + LOADERS });
let pages = 0;
for (let i = 0; i < STREAMS; i++) {
  const open = () =>
    http
      .get({ host: url.hostname, port: url.port, path: '/events', agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => setTimeout(open, 200));
      })
      .on('error', () => setTimeout(open, 200));
  open();
}
const load = () =>
  http
    .get({ host: url.hostname, port: url.port, path: '/', agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        pages++;
        load();
      });
    })
    .on('error', () => setTimeout(load, 50));
for (let i = 0; i < LOADERS; i++) load();
process.on('SIGTERM', () => {
  process.stdout.write(String(pages));
  process.exit(0);
});
