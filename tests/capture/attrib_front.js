// tests/capture/attrib_front.js - a Node.js front for e2e_attrib_node.sh
// (issue 14): an http server (one event loop) that calls a backend for
// every request, with fetch (undici's keep-alive pool) for even tags and
// http.request on a keep-alive Agent for odd ones, to one of two paths.
// It passes the client's X-Tag on (the ground truth) and, with PROPAGATE=1,
// a W3C traceparent: the client's trace id with a new span id.
//   node attrib_front.js PORT BACKEND_PORT PROPAGATE
'use strict';
const http = require('http');
const crypto = require('crypto');

const [port, back, propagate] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function headersFor(req) {
	const h = { 'x-tag': req.headers['x-tag'] || '' };
	const tp = req.headers['traceparent'];
	if (propagate && tp) {
		const parts = tp.split('-');
		h.traceparent = `00-${parts[1]}-${crypto.randomBytes(8).toString('hex')}-01`;
	}
	return h;
}

function viaRequest(path, headers) {
	return new Promise((resolve, reject) => {
		const r = http.request({ host: '127.0.0.1', port: back, path, headers, agent }, (res) => {
			let n = 0;
			res.on('data', (b) => { n += b.length; });
			res.on('end', () => resolve(n));
		});
		r.on('error', reject);
		r.end();
	});
}

async function viaFetch(path, headers) {
	const res = await fetch(`http://127.0.0.1:${back}${path}`, { headers });
	return (await res.text()).length;
}

http.createServer(async (req, res) => {
	const tag = req.headers['x-tag'] || '';
	const n = Number(tag.slice(1)) || 0;
	const path = `/item/${n % 2}`;
	try {
		const got = n % 2 ? await viaRequest(path, headersFor(req)) : await viaFetch(path, headersFor(req));
		const body = `front ${got}\n`;
		res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) });
		res.end(body);
	} catch (e) {
		res.writeHead(502, { 'Content-Length': 0 });
		res.end();
	}
}).listen(port, '127.0.0.1', () => console.error('listening'));
