/*
 * nnmath.js: the book's mathematics in plain JavaScript, shared by the "Try it" pages (Draw a digit, the
 * playground, the optimiser explorer). No libraries, no build step: it defines one global, window.NNMath.
 * Every number is a float64 (JavaScript's own), so it reproduces nnlib with dtype=np.float64.
 *
 * Each piece is written against the chapter that derives it, with nnlib's exact definition and order of operations
 * (tests/test_explorables.py runs both from the same weights and batches and compares):
 *
 *   Random numbers (NumPy's default_rng, so that a seed gives the same data, weights and batches as nnlib):
 *     SeedSequence(entropy)  NumPy's entropy mixing (hashmix/mix over a pool of four uint32 words) and
 *                            generate_state, which seeds
 *     PCG64                  128-bit LCG, state ← state·M + inc (mod 2^128), output XSL-RR (BigInt arithmetic);
 *                            next32 hands out the two halves of one 64-bit output (low half first), as NumPy does.
 *     Generator              random() = (next64 >> 11)·2^-53; uniform(a, b) = a + (b − a)·random();
 *                            standardNormal(): NumPy's 256-box ziggurat, tables from the Marsaglia–Tsang recursion;
 *                            normal(loc, scale) = loc + scale·z; permutation(n): Fisher–Yates from the top, j = interval(i)
 *                            (masked rejection, 32-bit draws below 2^32); integers63() = integers(2**63).
 *   Data (Chapter 1, nnlib.data): makeMoons, makeCircles, makeSpirals (then the same permutation as _shuffled,
 *     and float32 coordinates), trainValSplit (train_val_split: the last n_val of a seeded permutation).
 *   Forward pass (Chapters 2–3): Dense Z = A W + 1bᵀ, W stored (n_in, n_out) row by row; ReLU max(z, 0);
 *     sigmoid 1/(1 + e^{−|z|}) or e^{−|z|}/(1 + e^{−|z|}); tanh; softmax exp(z − max z)/Σ.
 *   Loss (Chapter 4): softmax cross-entropy 𝓛 = −(1/N) Σ_n log softmax(z_n)_{y_n}; δ = (softmax(Z) − Y)/N.
 *   Backward pass (Chapter 5): ∂𝓛/∂W = Aᵀδ (BP4), ∂𝓛/∂b = δᵀ1 (BP3), ∂𝓛/∂A = δWᵀ, ∂𝓛/∂Z = ∂𝓛/∂A ⊙ φ′(Z) (BP2).
 *   Training step (Chapter 6, Model.train_step): forward in training mode, loss + penalties, backward, L2's gradient,
 *     clipping, then one optimiser step; nothing is updated when the loss is not finite. Batches: one permutation of
 *     the training set per epoch from the model's generator (minibatches), the last batch may be smaller.
 *   Initialisation (Chapter 7, nnlib.init): uniform U(±0.05), Xavier N(0, 2/(n_in + n_out)), He N(0, 2/n_in);
 *     biases 0. Drawn from the model's generator in layer order, as Model(seed).dense(...) does.
 *   Optimisers (Chapter 8, nnlib.optimizers; the book's notation, g = g_t the gradient, ⊙ elementwise):
 *     SGD θ ← θ − ηg; momentum u ← μu + g, θ ← θ − ηu; Nesterov (nnlib's form) u ← μu + g, θ ← θ − η(g + μu);
 *     RMSProp r ← ρr + (1 − ρ)g⊙g, θ ← θ − ηg/(√r + ε); Adam m ← β1 m + (1 − β1)g, v ← β2 v + (1 − β2)g⊙g,
 *     θ ← θ − η m̂/(√v̂ + ε) with m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ). ε (eps) defaults to 1e-8, as in nnlib.
 *   Regularisation (Chapter 9): L2 adds (λ/2)Σ‖W‖² to the loss and λW to each weight gradient (not the biases);
 *     inverted dropout A = X ⊙ M/(1 − p), M_ij = [ξ_ij ≥ p], ξ_ij uniform on [0, 1) from the layer's own generator,
 *     seeded like nnlib's (Model.add draws integers(2**63) from the model's generator); identity in evaluation.
 *   Schedules (Chapter 10): per epoch e (1-based), step decay η0·γ^⌊(e − 1)/k⌋ (every k epochs),
 *     cosine ½η0(1 + cos(π·min(e − 1, E)/E)).
 *   Clipping (Chapter 10): by global norm, ‖g_t‖ = √(Σ all entries²); if ‖g_t‖ > τ every gradient is multiplied by
 *     τ/‖g_t‖ (a non-finite norm leaves them as they are). Order of the callbacks: L2 first, then clipping (as
 *     callbacks=[L2(λ), ClipByGlobalNorm(τ)]). The trainer counts the steps it clipped (clipStats).
 *   Surfaces for the optimiser explorer (Chapter 8): valley ½(x²/κ + y²), Rosenbrock (1 − x)² + 100(y − x²)²,
 *     saddle ½x² − ½y² + ¼y⁴; each with its gradient; a path adds N(0, s²) noise to each gradient component
 *     (s = the noise level; σ is the sigmoid).
 */
(function (root) {
  "use strict";

  // --- SeedSequence (NumPy's bit_generator: entropy → pool → state words) ------------------------------------------
  const INIT_A = 0x43b0d7e5, MULT_A = 0x931e8875, INIT_B = 0x8b51f9dd, MULT_B = 0x58f38ded;
  const MIX_MULT_L = 0xca01f9dd, MIX_MULT_R = 0x4973f715, POOL = 4;
  const mul32 = (a, b) => Math.imul(a, b) >>> 0;

  function uint32Words(entropy) {  // a non-negative integer as little-endian 32-bit words ([0] for 0)
    let value = BigInt(entropy);
    if (value < 0n) throw new RangeError("SeedSequence: the seed must be a non-negative integer");
    const words = [];
    do { words.push(Number(value & 0xffffffffn)); value >>= 32n; } while (value > 0n);
    return words;
  }

  class SeedSequence {
    constructor(entropy) {
      const words = uint32Words(entropy);
      let hashConst = INIT_A;
      const hashmix = (value) => {
        value = (value ^ hashConst) >>> 0;
        hashConst = mul32(hashConst, MULT_A);
        value = mul32(value, hashConst);
        return (value ^ (value >>> 16)) >>> 0;
      };
      const mix = (x, y) => {
        const r = (mul32(MIX_MULT_L, x) - mul32(MIX_MULT_R, y)) >>> 0;
        return (r ^ (r >>> 16)) >>> 0;
      };
      const pool = new Array(POOL);
      for (let i = 0; i < POOL; i++) pool[i] = hashmix(i < words.length ? words[i] : 0);
      for (let src = 0; src < POOL; src++) {
        for (let dst = 0; dst < POOL; dst++) if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
      }
      for (let src = POOL; src < words.length; src++) {
        for (let dst = 0; dst < POOL; dst++) pool[dst] = mix(pool[dst], hashmix(words[src]));
      }
      this.pool = pool;
    }

    generateState64(n) {  // n uint64 words as BigInt (pairs of uint32, low word first)
      let hashConst = INIT_B;
      const words = [];
      for (let i = 0; i < 2 * n; i++) {
        let value = (this.pool[i % POOL] ^ hashConst) >>> 0;
        hashConst = mul32(hashConst, MULT_B);
        value = mul32(value, hashConst);
        words.push((value ^ (value >>> 16)) >>> 0);
      }
      const out = [];
      for (let i = 0; i < n; i++) out.push((BigInt(words[2 * i + 1]) << 32n) | BigInt(words[2 * i]));
      return out;
    }
  }

  // --- PCG64 (XSL-RR 128/64) -----------------------------------------------------------------------------------
  const M64 = (1n << 64n) - 1n, M128 = (1n << 128n) - 1n;
  const PCG_MULT = (0x2360ed051fc65da4n << 64n) | 0x4385df649fccf645n;

  class PCG64 {
    constructor(seedSequence) {
      const [s0, s1, i0, i1] = seedSequence.generateState64(4);
      const initState = (s0 << 64n) | s1, initSeq = (i0 << 64n) | i1;
      this.inc = ((initSeq << 1n) | 1n) & M128;
      this.state = 0n;
      this.step();
      this.state = (this.state + initState) & M128;
      this.step();
      this.hasUint32 = false;
      this.uinteger = 0;
    }

    step() { this.state = (this.state * PCG_MULT + this.inc) & M128; }

    next64() {
      this.step();
      const s = this.state, rot = Number(s >> 122n);
      const value = ((s >> 64n) ^ s) & M64;
      return rot === 0 ? value : ((value >> BigInt(rot)) | (value << BigInt(64 - rot))) & M64;
    }

    next32() {
      if (this.hasUint32) { this.hasUint32 = false; return this.uinteger; }
      const next = this.next64();
      this.hasUint32 = true;
      this.uinteger = Number(next >> 32n);
      return Number(next & 0xffffffffn);
    }

    nextDouble() { return Number(this.next64() >> 11n) * 1.1102230246251565e-16; }  // 2^-53
  }

  // --- the ziggurat tables (256 boxes, 52-bit integers), Marsaglia & Tsang's recursion -------------------------
  const ZIG_R = 3.6541528853610087963519472518, ZIG_INV_R = 0.27366123732975827203338247596;
  const ZIG_V = 0.004928673233974654931590913431847;  // area of each box: r f(r) + ∫_r^∞ f, f(x) = e^{−x²/2}
  const KI = new Float64Array(256), WI = new Float64Array(256), FI = new Float64Array(256);
  (function zigset() {
    const m = 4503599627370496;  // 2^52
    let dn = ZIG_R, tn = dn;
    const q = ZIG_V / Math.exp(-0.5 * dn * dn);
    KI[0] = Math.floor((dn / q) * m); KI[1] = 0;
    WI[0] = q / m; WI[255] = dn / m;
    FI[0] = 1; FI[255] = Math.exp(-0.5 * dn * dn);
    for (let i = 254; i >= 1; i--) {
      dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
      KI[i + 1] = Math.floor((dn / tn) * m);
      tn = dn;
      FI[i] = Math.exp(-0.5 * dn * dn);
      WI[i] = dn / m;
    }
  })();

  class Generator {
    /** np.random.default_rng(seed) for a non-negative integer seed. */
    constructor(seed) { this.bitgen = new PCG64(new SeedSequence(seed)); }

    random() { return this.bitgen.nextDouble(); }

    uniform(low, high) { return low + (high - low) * this.bitgen.nextDouble(); }

    standardNormal() {
      const bg = this.bitgen;
      for (;;) {
        let r = bg.next64();
        const idx = Number(r & 0xffn);
        r >>= 8n;
        const sign = Number(r & 1n), rabs = Number((r >> 1n) & 0xfffffffffffffn);
        let x = rabs * WI[idx];
        if (sign) x = -x;
        if (rabs < KI[idx]) return x;
        if (idx === 0) {
          for (;;) {
            const xx = -ZIG_INV_R * Math.log1p(-bg.nextDouble());
            const yy = -Math.log1p(-bg.nextDouble());
            if (yy + yy > xx * xx) return (rabs >> 8) & 1 ? -(ZIG_R + xx) : ZIG_R + xx;
          }
        } else if ((FI[idx - 1] - FI[idx]) * bg.nextDouble() + FI[idx] < Math.exp(-0.5 * x * x)) {
          return x;
        }
      }
    }

    normal(loc, scale) { return loc + scale * this.standardNormal(); }

    /** A uniform integer in [0, max] by masked rejection (NumPy's random_interval). */
    interval(max) {
      if (max === 0) return 0;
      if (max <= 0xffffffff) {
        let mask = max;
        mask |= mask >>> 1; mask |= mask >>> 2; mask |= mask >>> 4; mask |= mask >>> 8; mask |= mask >>> 16;
        mask >>>= 0;
        let value;
        while ((value = (this.bitgen.next32() & mask) >>> 0) > max);
        return value;
      }
      throw new RangeError("interval: arrays this long are not supported");
    }

    /** rng.permutation(n): arange(n) shuffled in place, from the last element down. */
    permutation(n) {
      const order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      for (let i = n - 1; i >= 1; i--) {
        const j = this.interval(i), t = order[i];
        order[i] = order[j]; order[j] = t;
      }
      return order;
    }

    /** rng.integers(2**63) (Lemire's method with a power-of-two range: the top 63 bits), as a BigInt. */
    integers63() { return this.bitgen.next64() >> 1n; }
  }

  // --- toy data (Chapter 1, nnlib.data) ---------------------------------------------------------------------------
  function shuffled(X, y, rng) {  // X[order] as float32, y[order]
    const n = y.length, order = rng.permutation(n);
    const Xs = new Float64Array(2 * n), ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      Xs[2 * i] = Math.fround(X[2 * order[i]]);
      Xs[2 * i + 1] = Math.fround(X[2 * order[i] + 1]);
      ys[i] = y[order[i]];
    }
    return { X: Xs, y: ys, n, classes: 0 };
  }

  function addNoise(X, n, noise, rng) {  // + rng.normal(0, noise, (n, 2)), row by row
    for (let i = 0; i < 2 * n; i++) X[i] = X[i] + rng.normal(0, noise);
  }

  function makeMoons(n = 200, { noise = 0.1, seed = 0 } = {}) {
    const rng = new Generator(seed), n0 = Math.floor(n / 2);
    const alpha = new Float64Array(n).map(() => rng.uniform(0, Math.PI));
    const X = new Float64Array(2 * n), y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = Math.cos(alpha[i]), s = Math.sin(alpha[i]);
      if (i < n0) { X[2 * i] = c; X[2 * i + 1] = s; } else { X[2 * i] = 1 - c; X[2 * i + 1] = 0.5 - s; y[i] = 1; }
    }
    addNoise(X, n, noise, rng);
    return Object.assign(shuffled(X, y, rng), { classes: 2 });
  }

  function makeCircles(n = 200, { noise = 0.05, factor = 0.5, seed = 0 } = {}) {
    if (!(factor > 0 && factor < 1)) throw new RangeError(`makeCircles: factor must be in (0, 1), got ${factor}`);
    const rng = new Generator(seed), n0 = Math.floor(n / 2);
    const angle = new Float64Array(n).map(() => rng.uniform(0, 2 * Math.PI));
    const X = new Float64Array(2 * n), y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const radius = i < n0 ? 1.0 : factor;
      X[2 * i] = radius * Math.cos(angle[i]);
      X[2 * i + 1] = radius * Math.sin(angle[i]);
      y[i] = i < n0 ? 0 : 1;
    }
    addNoise(X, n, noise, rng);
    return Object.assign(shuffled(X, y, rng), { classes: 2 });
  }

  function linspace01(num) {  // np.linspace(0, 1, num)
    const out = new Float64Array(num);
    if (num === 1) return out;
    const step = 1 / (num - 1);
    for (let i = 0; i < num; i++) out[i] = i * step;
    out[num - 1] = 1;
    return out;
  }

  function makeSpirals(n = 300, { classes = 3, noise = 0.2, seed = 0 } = {}) {
    const rng = new Generator(seed), y = new Int32Array(n), counts = new Array(classes).fill(0);
    for (let i = 0; i < n; i++) { y[i] = Math.floor((i * classes) / n); counts[y[i]]++; }
    const r = new Float64Array(n);
    let at = 0;
    for (let k = 0; k < classes; k++) { r.set(linspace01(counts[k]), at); at += counts[k]; }
    const X = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const alpha = (2 * Math.PI * y[i]) / classes + 4 * r[i] + rng.normal(0, noise);
      X[2 * i] = r[i] * Math.sin(alpha);
      X[2 * i + 1] = r[i] * Math.cos(alpha);
    }
    return Object.assign(shuffled(X, y, rng), { classes });
  }

  const roundHalfEven = (x) => {  // Python's round()
    const f = Math.floor(x), d = x - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return f % 2 === 0 ? f : f + 1;
  };

  /** train_val_split(X, y, val_size, seed=seed): {train, val} datasets; val_size a count or a fraction in (0, 1). */
  function trainValSplit(data, valSize, seed = 0) {
    const n = data.n, nVal = Number.isInteger(valSize) && valSize >= 1 ? valSize : roundHalfEven(valSize * n);
    if (!(nVal > 0 && nVal < n)) throw new RangeError(`trainValSplit: val_size=${valSize} leaves nothing (N=${n})`);
    const order = new Generator(seed).permutation(n);
    const take = (idx) => {
      const X = new Float64Array(2 * idx.length), y = new Int32Array(idx.length);
      idx.forEach((k, i) => { X[2 * i] = data.X[2 * k]; X[2 * i + 1] = data.X[2 * k + 1]; y[i] = data.y[k]; });
      return { X, y, n: idx.length, classes: data.classes };
    };
    return { train: take(order.subarray(0, n - nVal)), val: take(order.subarray(n - nVal)) };
  }

  // --- layers: forward and backward (Chapters 2, 3, 5, 9) -----------------------------------------------------------
  // A network is an array of layers: {type: "Dense", nIn, nOut, W, b} (W row-major (nIn, nOut); any typed arrays),
  // {type: "ReLU" | "Sigmoid" | "Tanh" | "Softmax"}, {type: "Dropout", p, rng}. Activations flow as Float64Array
  // (n × width), row by row.

  function denseForward(X, n, nIn, W, b, nOut) {  // X W + 1bᵀ, summed over i in order; inputs that are 0 cost nothing
    const Z = new Float64Array(n * nOut), acc = new Float64Array(nOut);
    for (let r = 0; r < n; r++) {
      const xr = r * nIn;
      acc.fill(0);
      for (let i = 0; i < nIn; i++) {
        const xi = X[xr + i];
        if (xi === 0) continue;
        const wr = i * nOut;
        for (let j = 0; j < nOut; j++) acc[j] += xi * W[wr + j];
      }
      const zr = r * nOut;
      for (let j = 0; j < nOut; j++) Z[zr + j] = acc[j] + b[j];
    }
    return Z;
  }

  function each(A, f) {  // a new Float64Array f(A[i]) (TypedArray.map is slow in V8)
    const out = new Float64Array(A.length);
    for (let i = 0; i < A.length; i++) out[i] = f(A[i]);
    return out;
  }

  function each2(A, B, f) {
    const out = new Float64Array(A.length);
    for (let i = 0; i < A.length; i++) out[i] = f(A[i], B[i]);
    return out;
  }

  const sigmoid = (z) => { const e = Math.exp(-Math.abs(z)); return (z >= 0 ? 1 : e) / (1 + e); };

  function softmaxRows(Z, n, k) {
    const P = new Float64Array(n * k);
    for (let r = 0; r < n; r++) {
      let max = -Infinity, sum = 0;
      for (let j = 0; j < k; j++) max = Math.max(max, Z[r * k + j]);
      for (let j = 0; j < k; j++) { P[r * k + j] = Math.exp(Z[r * k + j] - max); sum += P[r * k + j]; }
      for (let j = 0; j < k; j++) P[r * k + j] /= sum;
    }
    return P;
  }

  /**
   * Run `layers` on X (n rows). {training, keep}: training switches dropout on (masks drawn from each Dropout's
   * rng, row by row, as rng.random(X.shape)); keep = true stores what backward() needs in `cache`.
   * Returns {out, width, cache}: cache[l] = the input of layer l (and the dropout mask).
   */
  function forward(layers, X, n, { training = false, keep = false, width } = {}) {
    let A = X instanceof Float64Array ? X : Float64Array.from(X);
    let w = width ?? (layers.length && layers[0].nIn) ?? A.length / n;
    const cache = keep ? [] : null;
    for (const layer of layers) {
      const entry = keep ? { input: A, width: w } : null;
      switch (layer.type) {
        case "Dense":
          A = denseForward(A, n, layer.nIn, layer.W, layer.b, layer.nOut);
          w = layer.nOut;
          break;
        case "ReLU": { const R = new Float64Array(A.length); for (let i = 0; i < A.length; i++) R[i] = A[i] > 0 ? A[i] : 0; A = R; break; }
        case "Sigmoid": A = each(A, sigmoid); break;
        case "Tanh": A = each(A, Math.tanh); break;
        case "Softmax": A = softmaxRows(A, n, w); break;
        case "Dropout":
          if (training && layer.p > 0) {
            const mask = new Float64Array(A.length), scale = 1 - layer.p;
            for (let i = 0; i < A.length; i++) mask[i] = (layer.rng.random() >= layer.p ? 1 : 0) / scale;
            const D = new Float64Array(A.length);
            for (let i = 0; i < A.length; i++) D[i] = A[i] * mask[i];
            A = D;
            if (keep) entry.mask = mask;
          }
          break;
        default: throw new Error(`NNMath.forward: unknown layer type ${layer.type}`);
      }
      if (keep) cache.push(entry);
    }
    return { out: A, width: w, cache };
  }

  /** Backward pass from dOut = ∂𝓛/∂(outputs): returns the gradients [{W, b} | null per layer]. */
  function backward(layers, cache, dOut, n) {
    const grads = new Array(layers.length).fill(null);
    let G = dOut;
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l], { input } = cache[l];
      switch (layer.type) {
        case "Dense": {
          const { nIn, nOut, W } = layer, dW = new Float64Array(nIn * nOut), db = new Float64Array(nOut);
          for (let r = 0; r < n; r++) {
            for (let i = 0; i < nIn; i++) {
              const a = input[r * nIn + i];
              if (a === 0) continue;
              for (let j = 0; j < nOut; j++) dW[i * nOut + j] += a * G[r * nOut + j];
            }
            for (let j = 0; j < nOut; j++) db[j] += G[r * nOut + j];
          }
          grads[l] = { W: dW, b: db };
          if (l > 0) {
            const dX = new Float64Array(n * nIn);
            for (let r = 0; r < n; r++) {
              for (let i = 0; i < nIn; i++) {
                let s = 0;
                for (let j = 0; j < nOut; j++) s += G[r * nOut + j] * W[i * nOut + j];
                dX[r * nIn + i] = s;
              }
            }
            G = dX;
          }
          break;
        }
        case "ReLU": G = each2(G, input, (g, z) => g * (z > 0 ? 1 : 0)); break;
        case "Sigmoid": G = each2(G, input, (g, z) => { const s = sigmoid(z); return g * (s * (1 - s)); }); break;
        case "Tanh": G = each2(G, input, (g, z) => { const t = Math.tanh(z); return g * (1 - t * t); }); break;
        case "Dropout": if (cache[l].mask) G = each2(G, cache[l].mask, (g, m) => g * m); break;
        default: throw new Error(`NNMath.backward: cannot differentiate a ${layer.type} layer`);
      }
    }
    return grads;
  }

  /** Softmax cross-entropy of logits Z (n × k) and labels y: {loss, delta = (P − Y)/N, correct}. */
  function softmaxCrossEntropy(Z, y, n, k) {
    const P = softmaxRows(Z, n, k), delta = new Float64Array(n * k);
    let total = 0, correct = 0;
    for (let r = 0; r < n; r++) {
      let max = -Infinity, best = 0, sum = 0;
      for (let j = 0; j < k; j++) if (Z[r * k + j] > max) { max = Z[r * k + j]; best = j; }
      for (let j = 0; j < k; j++) sum += Math.exp(Z[r * k + j] - max);
      total += Z[r * k + y[r]] - max - Math.log(sum);
      if (best === y[r]) correct++;
      for (let j = 0; j < k; j++) delta[r * k + j] = (P[r * k + j] - (j === y[r] ? 1 : 0)) / n;
    }
    return { loss: -total / n, delta, correct, probs: P };
  }

  /** Class probabilities for X (n rows), evaluation mode; a softmax is applied unless the network ends with one. */
  function predictProba(layers, X, n, width) {
    const { out, width: k } = forward(layers, X, n, { width });
    return layers.length && layers[layers.length - 1].type === "Softmax" ? out : softmaxRows(out, n, k);
  }

  // --- initialisation (Chapter 7) and the model (Chapter 6) ---------------------------------------------------------
  const INITS = {
    uniform: (nIn, nOut, rng) => Float64Array.from({ length: nIn * nOut }, () => rng.uniform(-0.05, 0.05)),
    xavier: (nIn, nOut, rng) => { const sd = Math.sqrt(2.0 / (nIn + nOut)); return Float64Array.from({ length: nIn * nOut }, () => rng.normal(0, sd)); },
    he: (nIn, nOut, rng) => { const sd = Math.sqrt(2.0 / nIn); return Float64Array.from({ length: nIn * nOut }, () => rng.normal(0, sd)); },
  };
  const ACTIVATIONS = { relu: "ReLU", tanh: "Tanh", sigmoid: "Sigmoid" };

  /**
   * The layers of Model(n_in, seed=seed).dense(h, act, init=...).add(Dropout(p)) … .dense(k, None, init=...):
   * sizes = [n_in, h1, …, k]; returns {layers, rng} with rng the model's generator (it then draws the batch orders).
   */
  function buildModel({ sizes, activation = "relu", init = "he", dropout = 0, seed = 0 }) {
    const rng = new Generator(seed), layers = [], initFn = INITS[init];
    if (!initFn) throw new Error(`unknown initialisation ${init}`);
    if (!ACTIVATIONS[activation]) throw new Error(`unknown activation ${activation}`);
    for (let l = 0; l + 1 < sizes.length; l++) {
      const nIn = sizes[l], nOut = sizes[l + 1];
      layers.push({ type: "Dense", nIn, nOut, W: initFn(nIn, nOut, rng), b: new Float64Array(nOut) });
      if (l + 2 < sizes.length) {
        layers.push({ type: ACTIVATIONS[activation] });
        if (dropout > 0) layers.push({ type: "Dropout", p: dropout, rng: new Generator(rng.integers63()) });
      }
    }
    return { layers, rng };
  }

  /** The parameter arrays in nnlib's order (Model.parameters(): W then b, layer by layer). */
  const parameters = (layers) => layers.filter((l) => l.type === "Dense").flatMap((l) => [l.W, l.b]);

  // --- optimisers (Chapters 6 and 8) ---------------------------------------------------------------------------------
  const OPTIMIZER_DEFAULTS = {
    sgd: { lr: 0.1 }, momentum: { lr: 0.01, momentum: 0.9 }, nesterov: { lr: 0.01, momentum: 0.9 },
    rmsprop: { lr: 1e-3, rho: 0.9, eps: 1e-8 }, adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
  };

  /** An optimiser: {name, lr, t, step(params, grads)}; updates the parameter arrays in place. */
  function makeOptimizer(name, options = {}) {
    if (!OPTIMIZER_DEFAULTS[name]) throw new Error(`unknown optimiser ${name}`);
    const h = { ...OPTIMIZER_DEFAULTS[name], ...options }, state = [];
    if (!(h.lr > 0)) throw new RangeError(`${name}: the learning rate must be positive, got ${h.lr}`);
    const opt = { name, lr: h.lr, t: 0, hyper: h, state };
    const update = {
      sgd(i, p, g) { for (let k = 0; k < p.length; k++) p[k] -= opt.lr * g[k]; },
      momentum(i, p, g) {  // u ← μu + g, θ ← θ − ηu
        const u = state[i] || (state[i] = new Float64Array(p.length)), mu = h.momentum;
        for (let k = 0; k < p.length; k++) { u[k] *= mu; u[k] += g[k]; p[k] -= opt.lr * u[k]; }
      },
      nesterov(i, p, g) {  // u ← μu + g, θ ← θ − η(g + μu)
        const u = state[i] || (state[i] = new Float64Array(p.length)), mu = h.momentum;
        for (let k = 0; k < p.length; k++) { u[k] *= mu; u[k] += g[k]; p[k] -= opt.lr * (g[k] + mu * u[k]); }
      },
      rmsprop(i, p, g) {  // r ← ρr + (1 − ρ)g⊙g, θ ← θ − ηg/(√r + ε)
        const r = state[i] || (state[i] = new Float64Array(p.length)), rho = h.rho;
        for (let k = 0; k < p.length; k++) {
          r[k] *= rho; r[k] += (1 - rho) * g[k] * g[k];
          p[k] -= opt.lr * g[k] / (Math.sqrt(r[k]) + h.eps);
        }
      },
      adam(i, p, g) {  // m ← β1 m + (1 − β1)g, v ← β2 v + (1 − β2)g⊙g, θ ← θ − η m̂/(√v̂ + ε)
        const st = state[i] || (state[i] = { m: new Float64Array(p.length), v: new Float64Array(p.length) });
        const { m, v } = st, b1 = h.beta1, b2 = h.beta2, c1 = 1 - b1 ** opt.t, c2 = 1 - b2 ** opt.t;
        for (let k = 0; k < p.length; k++) {
          m[k] *= b1; m[k] += (1 - b1) * g[k];
          v[k] *= b2; v[k] += (1 - b2) * g[k] * g[k];
          const mHat = m[k] / c1, vHat = v[k] / c2;
          p[k] -= opt.lr * mHat / (Math.sqrt(vHat) + h.eps);
        }
      },
    }[name];
    opt.step = (params, grads) => {
      opt.t += 1;
      for (let i = 0; i < params.length; i++) update(i, params[i], grads[i]);
    };
    return opt;
  }

  // --- schedules (Chapter 10) ------------------------------------------------------------------------------------
  /** lr for epoch e (1-based) from the initial lr: {type: "none" | "step" | "cosine", every, factor, epochs, minLr}. */
  function scheduleLr(schedule, lr0, epoch) {
    if (!schedule || schedule.type === "none") return lr0;
    if (schedule.type === "step") return lr0 * schedule.factor ** Math.floor((epoch - 1) / schedule.every);
    if (schedule.type === "cosine") {
      const E = schedule.epochs, minLr = schedule.minLr || 0, progress = Math.min(epoch - 1, E) / E;
      return minLr + 0.5 * (lr0 - minLr) * (1 + Math.cos(Math.PI * progress));
    }
    throw new Error(`unknown schedule ${schedule.type}`);
  }

  // --- the trainer: Model.fit, one step at a time ---------------------------------------------------------------------
  /**
   * new Trainer({sizes, activation, init, dropout, seed, optimizer: {name, ...hyper}, batchSize, l2, clip, schedule},
   *             train, val): train/val are {X, y, n}; l2 is λ, clip is τ (0 = off). step() takes one mini-batch step
   * (and starts a new epoch, with the schedule's lr and a new permutation, when needed); an epoch's end records
   * history {epoch, loss, accuracy, lr, val_loss, val_accuracy} like fit's DataFrame. With clipping on, clipStats
   * counts the steps {steps, clipped (‖g_t‖ > τ), largest ‖g_t‖} and lastNorm is the last ‖g_t‖ before clipping.
   */
  class Trainer {
    constructor(config, train, val = null) {
      this.config = config;
      this.train = train; this.val = val;
      this.classes = config.sizes[config.sizes.length - 1];
      const { layers, rng } = buildModel(config);
      this.layers = layers; this.rng = rng;
      this.params = parameters(layers);
      const { name, ...hyper } = config.optimizer;
      this.optimizer = makeOptimizer(name, hyper);
      this.lr0 = this.optimizer.lr;
      this.epoch = 0; this.steps = 0; this.history = []; this.losses = []; this.batchOrders = [];
      this.order = null; this.cursor = 0; this.epochLoss = 0; this.epochCorrect = 0; this.failed = null;
      this.lastNorm = null; this.clipStats = { steps: 0, clipped: 0, largest: 0 };
    }

    startEpoch() {
      this.epoch += 1;
      this.optimizer.lr = scheduleLr(this.config.schedule, this.lr0, this.epoch);
      this.order = this.rng.permutation(this.train.n);
      this.batchOrders.push(Array.from(this.order));
      this.cursor = 0; this.epochLoss = 0; this.epochCorrect = 0;
    }

    step() {
      if (this.failed) return null;
      if (this.order === null || this.cursor >= this.train.n) this.startEpoch();
      const idx = this.order.subarray(this.cursor, Math.min(this.cursor + this.config.batchSize, this.train.n));
      this.cursor += idx.length;
      const n = idx.length, Xb = new Float64Array(2 * n), yb = new Int32Array(n);
      idx.forEach((k, i) => { Xb[2 * i] = this.train.X[2 * k]; Xb[2 * i + 1] = this.train.X[2 * k + 1]; yb[i] = this.train.y[k]; });
      const result = this.trainStep(Xb, yb, n);
      this.steps += 1;
      this.losses.push(result.loss);
      if (!Number.isFinite(result.loss)) {
        this.failed = `the loss became ${result.loss} at epoch ${this.epoch}`;
        return result;
      }
      this.epochLoss += result.loss * n; this.epochCorrect += result.correct;
      if (this.cursor >= this.train.n) this.endEpoch();
      return result;
    }

    /** Model.train_step: forward (training), loss + L2 penalty, backward, L2 gradient, clipping, optimiser step. */
    trainStep(Xb, yb, n) {
      const { out, cache } = forward(this.layers, Xb, n, { training: true, keep: true, width: 2 });
      const sce = softmaxCrossEntropy(out, yb, n, this.classes);
      const lam = this.config.l2 || 0, dense = this.layers.filter((l) => l.type === "Dense");
      let penalty = 0;
      if (lam > 0) {
        for (const l of dense) { let s = 0; for (const w of l.W) s += w * w; penalty += s; }
        penalty *= 0.5 * lam;
      }
      const loss = sce.loss + penalty;
      if (Number.isFinite(loss)) {
        const g = backward(this.layers, cache, sce.delta, n).filter(Boolean);
        const grads = g.flatMap((x) => [x.W, x.b]);
        if (lam > 0) dense.forEach((l, i) => { const gW = g[i].W; for (let k = 0; k < gW.length; k++) gW[k] += lam * l.W[k]; });
        if (this.config.clip > 0) {
          const norm = this.lastNorm = clipByGlobalNorm(grads, this.config.clip), st = this.clipStats;
          st.steps += 1; if (norm > this.config.clip) st.clipped += 1; st.largest = Math.max(st.largest, norm);
        }
        this.optimizer.step(this.params, grads);
      }
      return { loss, correct: sce.correct };
    }

    endEpoch() {
      const logs = { epoch: this.epoch, loss: this.epochLoss / this.train.n, accuracy: this.epochCorrect / this.train.n,
        lr: this.optimizer.lr };
      if (this.val && this.val.n) Object.assign(logs, this.evaluate(this.val));
      this.history.push(logs);
      return logs;
    }

    evaluate(data) {
      const { out } = forward(this.layers, data.X, data.n, { width: 2 });
      const { loss, correct } = softmaxCrossEntropy(out, data.y, data.n, this.classes);
      return { val_loss: loss, val_accuracy: correct / data.n };
    }

    weights() { return this.params.map((p) => Array.from(p)); }
  }

  /**
   * ClipByGlobalNorm(τ = maxNorm): returns ‖g_t‖ before clipping; if ‖g_t‖ > τ rescales every gradient in place by
   * τ/‖g_t‖. A non-finite norm leaves the gradients as they are (as nnlib: scaling cannot repair them).
   */
  function clipByGlobalNorm(grads, maxNorm) {
    let total = 0;
    for (const g of grads) { let s = 0; for (const x of g) s += x * x; total += s; }
    const norm = Math.sqrt(total);
    if (Number.isFinite(norm) && norm > maxNorm) for (const g of grads) for (let k = 0; k < g.length; k++) g[k] *= maxNorm / norm;
    return norm;
  }

  /** Inverted dropout on `values` (training mode) with a fresh generator: {out, mask}. */
  function dropout(values, p, seed) {
    const layer = { type: "Dropout", p, rng: new Generator(seed) };
    const { out, cache } = forward([layer], Float64Array.from(values), values.length, { training: true, keep: true, width: 1 });
    return { out, mask: cache[0].mask };
  }

  // --- 2-D surfaces and optimiser paths (Chapter 8) ------------------------------------------------------------------
  const SURFACES = {
    valley: {
      label: "Ill-conditioned valley", f: (x, y, s) => 0.5 * (x * x / s.kappa + y * y),
      grad: (x, y, s) => [x / s.kappa, y], view: [-3, 3, -3, 3], start: [-2.8, 1.5], minimum: [0, 0],
    },
    rosenbrock: {
      label: "Rosenbrock", f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
      grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], view: [-2, 2, -1, 3],
      start: [-1.2, 1], minimum: [1, 1],
    },
    saddle: {
      label: "Saddle", f: (x, y) => 0.5 * x * x - 0.5 * y * y + 0.25 * y ** 4,
      grad: (x, y) => [x, -y + y ** 3], view: [-2, 2, -2, 2], start: [1.8, 0.001], minimum: [0, 1],
      minima: [[0, 1], [0, -1]],
    },
  };

  /**
   * The path of one optimiser on a surface: [[x0, y0], [x1, y1], …] (steps + 1 points). The gradient at each step
   * gets N(0, s²), s = noise, added to each component, drawn from default_rng(seed) (the same noise for every optimiser).
   */
  function optimizerPath(surfaceName, { name, ...hyper }, { start, steps = 100, noise = 0, seed = 0, kappa = 10 } = {}) {
    const surface = SURFACES[surfaceName], s = { kappa };
    if (!surface) throw new Error(`unknown surface ${surfaceName}`);
    const theta = Float64Array.from(start || surface.start), opt = makeOptimizer(name, hyper), rng = new Generator(seed);
    const path = [[theta[0], theta[1]]];
    for (let t = 0; t < steps; t++) {
      const g = surface.grad(theta[0], theta[1], s);
      const grad = Float64Array.of(g[0] + rng.normal(0, noise), g[1] + rng.normal(0, noise));
      opt.step([theta], [grad]);
      if (!Number.isFinite(theta[0]) || !Number.isFinite(theta[1]) || Math.abs(theta[0]) > 1e6 || Math.abs(theta[1]) > 1e6) {
        path.push([theta[0], theta[1]]);
        break;
      }
      path.push([theta[0], theta[1]]);
    }
    return path;
  }

  root.NNMath = {
    SeedSequence, PCG64, Generator, ziggurat: { KI, WI, FI },
    makeMoons, makeCircles, makeSpirals, trainValSplit,
    forward, backward, softmaxRows, softmaxCrossEntropy, predictProba, denseForward, sigmoid,
    INITS, buildModel, parameters, makeOptimizer, OPTIMIZER_DEFAULTS, scheduleLr, clipByGlobalNorm, dropout, Trainer,
    SURFACES, optimizerPath,
  };
})(typeof window !== "undefined" ? window : globalThis);
