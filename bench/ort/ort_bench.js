#!/usr/bin/env node
/* ONNX Runtime (CPU) latency baseline for nnzc.
 *
 *   node ort_bench.js MODEL.onnx [--threads N] [--iters N] [--warmup N] [--input-shape NAME=D0,D1,...]...
 *                    [--per-node]
 *
 * Runs the model the way `nnzc bench` does (batch as given by the model, generated inputs, a few
 * warm-up runs, then N timed runs of one inference each) and prints, as its LAST stdout line, one
 * JSON object of the same shape as `nnzc bench`:
 *   {"model", "target": "ort", "threads", "iters", "median_ms", "min_ms", "mean_ms", "max_ms"}
 *
 * The session is what a careful ORT user would deploy for latency: every graph optimisation on,
 * `threads` intra-op threads (ORT counts the calling thread as one of them), one inter-op thread,
 * sequential execution, the default CPU execution provider (MLAS kernels).
 *
 * Inputs come from the same 64-bit LCG and seed as nnzc's `bench` (uniform in [-1, 1) for floats,
 * 0/1 for integers and bools), so both sides see identical data: dense kernels do not care, but
 * denormals and sparse kernels would.
 *
 * --per-node turns on ORT's profiler (session option enableProfiling) and prints, before the last
 * line, one line {"per_node": [...]}: per node of ORT's optimised graph, in execution order, its
 * name (as ORT names it after fusion, e.g. '/layer1/layer1.0/relu/Relu_output_0_nchwc'), op,
 * input and output shapes, and the median of its kernel time over the timed runs (ms). The
 * profiler's overhead is small per node but not nil: the whole-run times of such a run are not
 * the ones to compare (bench/sparse_sweep.py times and profiles in separate runs). The trace file
 * goes to the system's temporary folder and is removed.
 *
 * Errors are one line on stderr, `ort_bench: error: ...`; exit 2 for usage errors, 1 otherwise.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function usage(msg) {
	process.stderr.write(`ort_bench: error: ${msg}\n`);
	process.stderr.write('usage: node ort_bench.js MODEL.onnx [--threads N] [--iters N] [--warmup N] ' +
		'[--input-shape NAME=D0,D1,...]...\n');
	process.exit(2);
}

function fail(msg) {
	process.stderr.write(`ort_bench: error: ${msg}\n`);
	process.exit(1);
}

function parseCount(flag, v, min, max) {
	if (v === undefined)
		usage(`${flag} needs a value`);
	if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max)
		usage(`${flag}: expected an integer in [${min}, ${max}], got '${v}'`);
	return Number(v);
}

function parseShape(s, shapes) {
	const m = /^([^=]+)=([0-9]+(?:,[0-9]+)*)?$/.exec(s || '');
	if (!m)
		usage(`--input-shape: expected NAME=D0,D1,..., got '${s}'`);
	shapes.set(m[1], m[2] === undefined ? [] : m[2].split(',').map(Number));
}

function parseArgs(argv) {
	const o = { model: null, threads: 1, iters: 20, warmup: 3, shapes: new Map(), perNode: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		/* Accept both `--flag value` and `--flag=value`, like nnzc. */
		const eq = a.startsWith('--') ? a.indexOf('=') : -1;
		const flag = eq > 0 ? a.slice(0, eq) : a;
		const val = () => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
		switch (flag) {
		case '--threads': o.threads = parseCount(flag, val(), 1, 1024); break;
		case '--iters': o.iters = parseCount(flag, val(), 1, 1000000); break;
		case '--warmup': o.warmup = parseCount(flag, val(), 0, 1000000); break;
		case '--input-shape': parseShape(val(), o.shapes); break;
		case '--per-node': o.perNode = true; break;
		case '-h':
		case '--help':
			process.stdout.write('usage: node ort_bench.js MODEL.onnx [--threads N] [--iters N] ' +
				'[--warmup N] [--input-shape NAME=D0,D1,...]... [--per-node]\n');
			process.exit(0);
			break;
		default:
			if (a.startsWith('-'))
				usage(`unknown option '${a}'`);
			if (o.model !== null)
				usage(`more than one model ('${o.model}', '${a}')`);
			o.model = a;
		}
	}
	if (o.model === null)
		usage('no model given');
	return o;
}

/* The generator of compiler/driver/cmd_bench.c (make_inputs): one state shared by all inputs in
 * order, state = state * 6364136223846793005 + 1442695040888963407 mod 2^64, r = state >> 33. */
class Lcg {
	constructor() {
		this.state = 0x9e3779b97f4a7c15n;
	}

	next() {
		this.state = BigInt.asUintN(64, this.state * 6364136223846793005n + 1442695040888963407n);
		return Number(this.state >> 33n);
	}
}

/* (float)r / 2^31 * 2 - 1 in float arithmetic, as the C code computes it: the conversion of r
 * rounds to 24 bits, the scalings are exact, and the subtraction is exact in double, so one final
 * rounding to float gives the same value. */
function uniform(rng) {
	return Math.fround(Math.fround(rng.next()) / 2147483648.0 * 2.0 - 1.0);
}

/* IEEE binary16 bits of a float32 value in [-1, 1) (round to nearest even), enough for inputs. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalfBits(x) {
	f32[0] = x;
	const b = u32[0];
	const sign = (b >>> 16) & 0x8000;
	const exp = ((b >>> 23) & 0xff) - 127 + 15;
	let mant = b & 0x7fffff;
	if (exp <= 0) { /* subnormal or zero in half */
		if (exp < -10)
			return sign;
		mant |= 0x800000;
		const shift = 14 - exp;
		let h = mant >>> shift;
		const rem = mant & ((1 << shift) - 1), halfway = 1 << (shift - 1);
		if (rem > halfway || (rem === halfway && (h & 1)))
			h++;
		return sign | h;
	}
	if (exp >= 31)
		return sign | 0x7c00;
	let h = (exp << 10) | (mant >>> 13);
	const rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem === 0x1000 && (h & 1)))
		h++;
	return sign | h;
}

function resolveShape(meta, shapes) {
	const given = shapes.get(meta.name);
	const declared = meta.shape;
	if (given !== undefined) {
		if (declared.length !== 0 && declared.length !== given.length)
			fail(`--input-shape ${meta.name}: ${given.length} dims for a rank-${declared.length} input`);
		declared.forEach((d, k) => {
			if (typeof d === 'number' && d >= 0 && d !== given[k])
				fail(`--input-shape ${meta.name}: dim ${k} is ${given[k]} but the model fixes it to ${d}`);
		});
		return given;
	}
	const symbolic = declared.filter((d) => typeof d !== 'number' || d < 0);
	if (symbolic.length > 0)
		fail(`input '${meta.name}' has symbolic dims [${declared.join(',')}]: give --input-shape ${meta.name}=D0,D1,...`);
	return declared.slice();
}

function makeInput(meta, dims, rng, ort) {
	let n = 1;
	for (const d of dims) {
		n *= d;
		if (!Number.isSafeInteger(n) || n > 2 ** 31)
			fail(`input '${meta.name}': [${dims.join(',')}] is too large`);
	}
	const t = meta.type;
	let data;
	switch (t) {
	case 'float32':
	case 'float64':
		data = t === 'float32' ? new Float32Array(n) : new Float64Array(n);
		for (let k = 0; k < n; k++)
			data[k] = uniform(rng);
		break;
	case 'float16':
		data = new Uint16Array(n);
		for (let k = 0; k < n; k++)
			data[k] = toHalfBits(uniform(rng));
		break;
	case 'int64':
	case 'uint64':
		data = t === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
		for (let k = 0; k < n; k++)
			data[k] = BigInt(rng.next() % 2);
		break;
	case 'int8': data = new Int8Array(n); break;
	case 'uint8': data = new Uint8Array(n); break;
	case 'bool': data = new Uint8Array(n); break;
	case 'int16': data = new Int16Array(n); break;
	case 'uint16': data = new Uint16Array(n); break;
	case 'int32': data = new Int32Array(n); break;
	case 'uint32': data = new Uint32Array(n); break;
	default:
		fail(`input '${meta.name}': element type ${t} is not supported by this benchmark`);
	}
	if (!(t.startsWith('float') || t.endsWith('int64')))
		for (let k = 0; k < n; k++)
			data[k] = rng.next() % 2;
	return new ort.Tensor(t, data, dims);
}

function summarize(ms) {
	const s = ms.slice().sort((a, b) => a - b);
	const n = s.length;
	const median = n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
	const mean = s.reduce((a, b) => a + b, 0) / n;
	return { median, min: s[0], mean, max: s[n - 1] };
}

function shapesOf(list) {
	/* [{"float": [1, 64, 56, 56]}, ...] -> [[1, 64, 56, 56], ...] */
	return (list || []).map((t) => Object.values(t)[0]);
}

/* The profiler's trace: one 'Node' event per node per run, named NODE_kernel_time, in execution
 * order; the last `iters` events of each node are the timed runs (the warm-up runs come first). */
function readTrace(dir, iters) {
	const files = fs.readdirSync(dir).filter((f) => f.startsWith('trace') && f.endsWith('.json'));
	if (files.length !== 1)
		fail(`--per-node: expected one profiler trace in ${dir}, found ${files.length}`);
	const file = path.join(dir, files[0]);
	let events;
	try {
		events = JSON.parse(fs.readFileSync(file, 'utf8'));
	} catch (e) {
		fail(`--per-node: cannot read the profiler trace ${file}: ${e.message.split('\n')[0]}`);
	}
	fs.rmSync(dir, { recursive: true, force: true });
	const nodes = new Map();
	for (const e of events) {
		if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time'))
			continue;
		const name = e.name.slice(0, -'_kernel_time'.length);
		if (!nodes.has(name))
			nodes.set(name, {
				name,
				op: e.args.op_name,
				inputs: shapesOf(e.args.input_type_shape),
				outputs: shapesOf(e.args.output_type_shape),
				us: [],
			});
		nodes.get(name).us.push(e.dur);
	}
	return [...nodes.values()].map((n) => {
		const timed = n.us.slice(-iters);
		const med = summarize(timed).median / 1000;
		return { name: n.name, op: n.op, inputs: n.inputs, outputs: n.outputs, runs: timed.length,
			median_ms: Number(med.toFixed(4)) };
	});
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	let ort;
	try {
		ort = require('onnxruntime-node');
	} catch (e) {
		fail(`cannot load onnxruntime-node (${e.message.split('\n')[0]}): run ` +
			'`ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund` in bench/ort');
	}
	let session;
	const options = {
		executionProviders: ['cpu'],
		graphOptimizationLevel: 'all',
		intraOpNumThreads: o.threads,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		logSeverityLevel: 3,
	};
	let profDir = null;
	if (o.perNode) {
		profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort_bench-'));
		options.enableProfiling = true;
		options.profileFilePrefix = path.join(profDir, 'trace');
	}
	try {
		session = await ort.InferenceSession.create(o.model, options);
	} catch (e) {
		fail(`${o.model}: ${e.message.split('\n')[0]}`);
	}
	for (const name of o.shapes.keys())
		if (!session.inputNames.includes(name))
			fail(`--input-shape ${name}: the model has no such input (inputs: ${session.inputNames.join(', ')})`);

	const rng = new Lcg();
	const feeds = {};
	for (const meta of session.inputMetadata) {
		if (!meta.isTensor)
			fail(`input '${meta.name}' is not a tensor`);
		feeds[meta.name] = makeInput(meta, resolveShape(meta, o.shapes), rng, ort);
	}

	const ms = new Array(o.iters);
	try {
		for (let it = -o.warmup; it < o.iters; it++) {
			const t0 = process.hrtime.bigint();
			await session.run(feeds);
			const t1 = process.hrtime.bigint();
			if (it >= 0)
				ms[it] = Number(t1 - t0) / 1e6;
		}
	} catch (e) {
		fail(`${o.model}: run failed: ${e.message.split('\n')[0]}`);
	}
	let perNode = null;
	if (o.perNode) {
		session.endProfiling();
		perNode = readTrace(profDir, o.iters);
	}
	await session.release();
	if (perNode !== null)
		process.stdout.write(JSON.stringify({ per_node: perNode }) + '\n');

	const s = summarize(ms);
	const f = (x) => x.toFixed(4);
	/* Same keys, order and number format as nnzc bench's printf, so one parser reads both. */
	process.stdout.write(`{"model": ${JSON.stringify(path.basename(o.model))}, "target": "ort", ` +
		`"threads": ${o.threads}, "iters": ${o.iters}, "median_ms": ${f(s.median)}, ` +
		`"min_ms": ${f(s.min)}, "mean_ms": ${f(s.mean)}, "max_ms": ${f(s.max)}}\n`);
}

main().catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));
