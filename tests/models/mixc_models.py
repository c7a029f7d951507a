"""PyTorch reference models for mixc (see shared MODELS.md).

Families:
  * MLP-Mixer (token mixing as Linear/Transpose, Conv1d k=1, or Einsum)
  * Sparse-MLP (Lou et al.): dense Mixer blocks + Sparse blocks with a
    token-mixing MoE (top-1, importance-score dropping) and a channel-mixing
    MoE (top-2), each written in one of three ONNX export styles:
      - "masked": every expert on every row, sparse gate via TopK+scatter
      - "onehot": GShard/V-MoE dispatch/combine tensors with a capacity
      - "loop":   per expert Equal/NonZero/Gather ... index_add
  * Soft MoE (Puigcerver et al.) as channel-mixing layer of a Mixer
  * Per-image MoE (Mobile V-MoE) as channel-mixing layer of a Mixer

All parameters are initialised by `init_params(model, seed)`: every parameter
gets its own generator seeded from (seed, crc32(parameter name)), so models
that differ only in how token mixing is written (mixer / mixer_conv1d /
mixer_einsum) get bit-identical weights.

Routing semantics (MODELS.md section 2):
  p = softmax(x @ W_g) (no bias), top-k on p, y = sum_{e in topk} p_e * E_e(x)
  with the raw (un-renormalised) p_e.  Importance-score dropping: per routed
  batch the floor(drop_frac * rows) rows with the lowest max-probability get
  zero MoE output (ties -> lower row index, as ONNX TopK(largest=0)).
  Capacity (onehot style only): cap = ceil(cf * k * rows / E) per expert
  (cf=None -> dropless, cap = rows); priority is choice-major (all first
  choices in row order, then all second choices); rows dropped by importance
  do not occupy capacity.
"""
import math
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------
# initialisation


def _tag(p, kind, fan_in=None):
    """Attach an init kind to a parameter ("w", "b", "ln_w", "ln_b", "router",
    "phi", "scale")."""
    p._mixc_kind = kind
    p._mixc_fan_in = fan_in
    return p


ROUTER_STD = 3.0  # router logits ~ N(0, ROUTER_STD^2): decisive routing


def init_params(model, seed):
    with torch.no_grad():
        for mod_name, mod in model.named_modules():
            for pname, p in mod.named_parameters(recurse=False):
                full = (mod_name + "." + pname) if mod_name else pname
                g = torch.Generator().manual_seed(
                    (seed * 1000003 + zlib.crc32(full.encode())) % (2 ** 63))
                r = torch.randn(p.numel(), generator=g,
                                dtype=torch.float64).float().reshape(p.shape)
                kind = getattr(p, "_mixc_kind", None)
                fan_in = getattr(p, "_mixc_fan_in", None)
                if kind is None:
                    if isinstance(mod, nn.LayerNorm):
                        kind = "ln_w" if pname == "weight" else "ln_b"
                    elif pname == "bias":
                        kind = "b"
                    else:
                        kind = "w"
                        fan_in = p.numel() // p.shape[0]
                if kind == "ln_w":
                    v = 1.0 + 0.1 * r
                elif kind in ("ln_b", "b"):
                    v = 0.1 * r
                elif kind == "w":
                    v = r / math.sqrt(fan_in)
                elif kind == "router":
                    v = ROUTER_STD * r / math.sqrt(fan_in)
                elif kind == "phi":
                    v = r
                elif kind == "scale":
                    v = torch.full_like(p, 2.0)
                else:
                    raise ValueError(kind)
                p.copy_(v)
    return model


def _ln(c, eps):
    return nn.LayerNorm(c, eps=eps)


# ----------------------------------------------------------------------------
# Mixer building blocks


class TokenMLP(nn.Module):
    """Token-mixing MLP applied to y of shape (B, S, C); returns (B, S, C).

    style "linear": Transpose - Linear - GELU - Linear - Transpose
    style "conv1d": nn.Conv1d(S, D, 1) over the token axis (tokens = channels
                    of the conv, C = its length): no transposes at all
    style "einsum": torch.einsum with the (D, S) / (S, D) weights
    """

    def __init__(self, S, D, style="linear"):
        super().__init__()
        self.style = style
        if style == "conv1d":
            self.fc1 = nn.Conv1d(S, D, 1)
            self.fc2 = nn.Conv1d(D, S, 1)
        elif style in ("linear", "einsum"):
            self.fc1 = nn.Linear(S, D)
            self.fc2 = nn.Linear(D, S)
        else:
            raise ValueError(style)
        self.act = nn.GELU()

    def forward(self, y):
        if self.style == "linear":
            return self.fc2(self.act(self.fc1(y.transpose(1, 2)))).transpose(1, 2)
        if self.style == "conv1d":
            return self.fc2(self.act(self.fc1(y)))
        h = torch.einsum("bsc,ds->bdc", y, self.fc1.weight) + self.fc1.bias[:, None]
        h = self.act(h)
        return torch.einsum("bdc,sd->bsc", h, self.fc2.weight) + self.fc2.bias[:, None]


class MLP(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.fc1 = nn.Linear(c, h)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(h, c)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class MixerBlock(nn.Module):
    def __init__(self, S, C, DS, DC, token_style="linear", channel=None, eps=1e-6):
        super().__init__()
        self.ln1 = _ln(C, eps)
        self.tok = TokenMLP(S, DS, token_style)
        self.ln2 = _ln(C, eps)
        self.chan = channel if channel is not None else MLP(C, DC)

    def forward(self, x):
        x = x + self.tok(self.ln1(x))
        x = x + self.chan(self.ln2(x))
        return x


class PatchEmbed(nn.Module):
    def __init__(self, in_ch, C, P):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, C, P, stride=P)

    def forward(self, x):
        x = self.proj(x)                      # (B, C, h, w)
        B, C, H, W = x.shape                  # Shape/Gather/Concat with a dynamic batch
        return x.reshape(B, C, H * W).transpose(1, 2)   # (B, S, C)


class Head(nn.Module):
    def __init__(self, C, n_classes, eps):
        super().__init__()
        self.ln = _ln(C, eps)
        self.fc = nn.Linear(C, n_classes)

    def forward(self, x):
        return self.fc(self.ln(x).mean(dim=1))


class Mixer(nn.Module):
    """MLP-Mixer.  `channel_factory(i)` may return a custom channel-mixing
    layer for block i (Soft MoE / per-image MoE) or None for the dense MLP."""

    def __init__(self, img=32, patch=8, C=24, blocks=3, DS=12, DC=96,
                 n_classes=10, token_style="linear", eps=1e-6,
                 channel_factory=None, in_ch=3):
        super().__init__()
        S = (img // patch) ** 2
        self.S, self.C = S, C
        self.embed = PatchEmbed(in_ch, C, patch)
        self.blocks = nn.ModuleList([
            MixerBlock(S, C, DS, DC, token_style,
                       channel_factory(i) if channel_factory else None, eps)
            for i in range(blocks)])
        self.head = Head(C, n_classes, eps)

    def forward(self, x):
        x = self.embed(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


# ----------------------------------------------------------------------------
# MoE


class Experts(nn.Module):
    """E expert MLPs d -> h -> d (exact GELU), weights stacked over E."""

    def __init__(self, E, d, h):
        super().__init__()
        self.E = E
        self.w1 = _tag(nn.Parameter(torch.empty(E, d, h)), "w", d)
        self.b1 = _tag(nn.Parameter(torch.empty(E, h)), "b")
        self.w2 = _tag(nn.Parameter(torch.empty(E, h, d)), "w", h)
        self.b2 = _tag(nn.Parameter(torch.empty(E, d)), "b")
        self.act = nn.GELU()

    def one(self, e, x):
        return self.act(x @ self.w1[e] + self.b1[e]) @ self.w2[e] + self.b2[e]


def importance_keep(p, drop_frac):
    """Float keep-mask (N,) : 0 for the floor(drop_frac*N) rows with the
    lowest max routing probability (ties -> lower row index), else 1."""
    n = p.shape[0]
    nd = int(math.floor(drop_frac * n + 1e-9))
    if nd <= 0:
        return None
    score = torch.amax(p, dim=-1)
    _, drop = torch.topk(score, nd, dim=0, largest=False, sorted=True)
    # src has the index's shape: ONNX ScatterElements needs updates shaped like
    # indices (torch accepts a larger src, but its export would be invalid ONNX)
    return torch.ones_like(score).scatter(0, drop, torch.zeros(drop.shape, dtype=score.dtype))


def capacity(cf, k, n, E):
    if cf is None:
        return n
    return max(1, min(n, int(math.ceil(cf * k * n / E))))


class MoE(nn.Module):
    """Routed MoE on rows x: (N, d) -> (N, d)."""

    def __init__(self, d, h, E, k, style="masked", drop_frac=0.0, cap_factor=None,
                 loop_scatter="scatter_add"):
        super().__init__()
        self.d, self.E, self.k = d, E, k
        self.loop_scatter = loop_scatter
        self.style = style
        self.drop_frac = drop_frac
        self.cap_factor = cap_factor
        self.router = nn.Linear(d, E, bias=False)
        _tag(self.router.weight, "router", d)
        self.experts = Experts(E, d, h)
        self.record = False
        self.stats = None

    def forward(self, x):
        p = torch.softmax(self.router(x), dim=-1)
        topv, topi = torch.topk(p, self.k, dim=-1)
        keep = importance_keep(p, self.drop_frac) if self.drop_frac > 0 else None
        if self.style == "masked":
            y = self._masked(x, p, topv, topi, keep)
        elif self.style == "onehot":
            y = self._onehot(x, topv, topi, keep)
        elif self.style == "loop":
            y = self._loop(x, topv, topi, keep)
        else:
            raise ValueError(self.style)
        if self.record and not torch.jit.is_tracing():
            self._record(x, p, keep, y)
        return y

    # -- style 1: masked ------------------------------------------------------
    def _masked(self, x, p, topv, topi, keep):
        gate = torch.zeros_like(p).scatter(1, topi, topv)      # ScatterElements
        if keep is not None:
            gate = gate * keep[:, None]
        y = None
        for e in range(self.E):
            t = gate[:, e:e + 1] * self.experts.one(e, x)
            y = t if y is None else y + t
        return y

    # -- style 2: one-hot / einsum (GShard, V-MoE) ----------------------------
    def _onehot(self, x, topv, topi, keep):
        N, E, k = x.shape[0], self.E, self.k
        cap = capacity(self.cap_factor, k, N, E)
        mask = F.one_hot(topi, E).to(x.dtype)                   # (N,k,E)
        if keep is not None:
            mask = mask * keep[:, None, None]
        mask = mask.transpose(0, 1).reshape(k * N, E)           # choice-major
        pos = torch.cumsum(mask, dim=0) - 1.0                   # slot in expert
        mask = mask * (pos < cap).to(x.dtype)                   # capacity drop
        pos_row = (pos * mask).sum(dim=-1)                      # (kN,)
        disp = F.one_hot(pos_row.long(), cap).to(x.dtype)[:, None, :] * mask[:, :, None]
        gates = topv.transpose(0, 1).reshape(k * N)
        comb = disp * gates[:, None, None]                      # (kN,E,cap)
        disp = disp.reshape(k, N, E, cap).sum(dim=0)
        comb = comb.reshape(k, N, E, cap).sum(dim=0)
        xe = torch.einsum("nec,nd->ecd", disp, x)               # dispatch
        h = self.experts.act(torch.einsum("ecd,edh->ech", xe, self.experts.w1)
                             + self.experts.b1[:, None, :])
        ye = torch.einsum("ech,ehd->ecd", h, self.experts.w2) + self.experts.b2[:, None, :]
        return torch.einsum("nec,ecd->nd", comb, ye)            # combine

    # -- style 3: loop over experts --------------------------------------------
    def _loop(self, x, topv, topi, keep):
        out = torch.zeros_like(x)
        keep_b = (keep > 0.5)[:, None] if keep is not None else None
        for e in range(self.E):
            sel = topi == e                                     # (N,k) bool
            if keep_b is not None:
                sel = sel & keep_b
            rows = torch.nonzero(sel)[:, 0]                     # data-dependent
            g = (topv * sel.to(x.dtype)).sum(dim=-1).index_select(0, rows)
            ye = self.experts.one(e, x.index_select(0, rows)) * g[:, None]
            if self.loop_scatter == "index_add":
                # torch 1.13 exports this as ScatterElements into zeros + Add
                out = out.index_add(0, rows, ye)
            else:
                # ScatterElements(reduction="add") (opset >= 16)
                out = out.scatter_add(0, rows[:, None].expand(-1, x.shape[1]), ye)
        return out

    # -- debugging / self-check ------------------------------------------------
    @torch.no_grad()
    def _record(self, x, p, keep, y):
        N, E, k = p.shape[0], self.E, self.k
        ps, _ = torch.sort(p, dim=-1, descending=True)
        topk_margin = (ps[:, k - 1] - ps[:, k]).min().item() if k < E else float("inf")
        st = {"rows": N, "E": E, "k": k, "topk_margin": topk_margin,
              "imp_dropped": 0, "imp_margin": float("inf"),
              "imp_dropped_rows_zero": True, "cap": None, "cap_dropped": 0}
        # naive re-implementation of MODELS.md section 2 (python loops), to
        # check the vectorised styles: importance drop, choice-major capacity
        score = p.max(dim=-1).values
        nd = int(math.floor(self.drop_frac * N + 1e-9)) if self.drop_frac > 0 else 0
        order = sorted(range(N), key=lambda n: (float(score[n]), n))
        kept_naive = [True] * N
        for n in order[:nd]:
            kept_naive[n] = False
        cap_n = capacity(self.cap_factor, k, N, E) if self.style == "onehot" else N
        ti = torch.topk(p, k, dim=-1)
        counts = [0] * E
        y_naive = torch.zeros_like(y)
        for c in range(k):
            for n in range(N):
                e = int(ti.indices[n, c])
                if not kept_naive[n]:
                    continue
                if counts[e] >= cap_n:
                    continue
                counts[e] += 1
                y_naive[n] += ti.values[n, c] * self.experts.one(e, x[n:n + 1])[0]
        st["naive_err"] = (y - y_naive).abs().max().item()
        if keep is not None:
            if [bool(v) for v in (keep > 0.5)] != kept_naive:
                raise AssertionError("importance keep-mask differs from the naive one")
            dropped = (keep < 0.5).nonzero()[:, 0]
            st["imp_dropped"] = int(dropped.numel())
            sc, _ = torch.sort(p.max(dim=-1).values)
            nd = st["imp_dropped"]
            st["imp_margin"] = (sc[nd] - sc[nd - 1]).item()
            st["imp_dropped_rows_zero"] = bool((y[dropped] == 0).all().item())
        if self.style == "onehot":
            cap = capacity(self.cap_factor, k, N, E)
            topi = torch.topk(p, k, dim=-1)[1]
            kept = torch.ones(N, dtype=torch.bool) if keep is None else keep > 0.5
            counts = [0] * E
            dropped = 0
            for c in range(k):
                for n in range(N):
                    if not kept[n]:
                        continue
                    e = int(topi[n, c])
                    if counts[e] >= cap:
                        dropped += 1
                    else:
                        counts[e] += 1
            st["cap"] = cap
            st["cap_dropped"] = dropped
        self.stats = st


class SparseBlock(nn.Module):
    """Sparse-MLP block (paper eq. 4-7) on x: (B, S, C)."""

    def __init__(self, S, C, S1, C1, E_S, D_S, E_C, D_C, style="masked",
                 drop_frac=0.1, cap_factor=None, eps=1e-6):
        super().__init__()
        self.S, self.C, self.S1, self.C1 = S, C, S1, C1
        self.rs_in_c = nn.Linear(C, C1)
        self.rs_in_s = nn.Linear(S, S1)
        self.ln1 = _ln(C1, eps)
        # loop style: the token MoE scatters with scatter_add, the channel MoE
        # with index_add, so both torch scatter-add exports appear
        self.moe_s = MoE(S1, D_S, E_S, 1, style, drop_frac, cap_factor, "scatter_add")
        self.ln2 = _ln(C1, eps)
        if E_C > 0:
            self.moe_c = MoE(C1, D_C, E_C, 2, style, 0.0, cap_factor, "index_add")
        else:
            self.moe_c = MLP(C1, D_C)
        self.rs_out_s = nn.Linear(S1, S)
        self.rs_out_c = nn.Linear(C1, C)

    def forward(self, x):
        S1, C1 = self.S1, self.C1
        x = self.rs_in_c(x)                                     # (B,S,C1)
        x = self.rs_in_s(x.transpose(1, 2)).transpose(1, 2)     # (B,S1,C1)
        # token-mixing MoE: rows are the B*C1 channel vectors of length S1
        y = self.ln1(x).transpose(1, 2).reshape(-1, S1)
        y = self.moe_s(y).reshape(-1, C1, S1).transpose(1, 2)
        x = x + y
        # channel-mixing MoE: rows are the B*S1 token vectors of length C1
        y = self.moe_c(self.ln2(x).reshape(-1, C1)).reshape(-1, S1, C1)
        x = x + y
        x = self.rs_out_s(x.transpose(1, 2)).transpose(1, 2)    # (B,S,C1)
        return self.rs_out_c(x)                                 # (B,S,C)


class SparseMLP(nn.Module):
    def __init__(self, img=16, patch=4, C=24, n_dense=1, n_sparse=2, S1=None,
                 C1=None, E_S=4, D_S=40, E_C=4, D_C=36, n_classes=10,
                 style="masked", drop_frac=0.1, cap_factor=None, eps=1e-6, in_ch=3):
        super().__init__()
        S = (img // patch) ** 2
        S1 = S1 or 2 * S
        C1 = C1 or C // 2
        self.embed = PatchEmbed(in_ch, C, patch)
        blocks = [MixerBlock(S, C, C // 2, 4 * C, "linear", None, eps)
                  for _ in range(n_dense)]
        # E_C may be a list (one entry per sparse block); 0 = dense channel MLP
        e_c = list(E_C) if isinstance(E_C, (list, tuple)) else [E_C] * n_sparse
        blocks += [SparseBlock(S, C, S1, C1, E_S, D_S, e_c[i], D_C, style,
                               drop_frac, cap_factor, eps)
                   for i in range(n_sparse)]
        self.blocks = nn.ModuleList(blocks)
        self.head = Head(C, n_classes, eps)

    def forward(self, x):
        x = self.embed(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


# ----------------------------------------------------------------------------
# Soft MoE


class SoftMoE(nn.Module):
    """Soft MoE layer on x: (B, m, d) with n experts x p slots, experts d->h->d.

    X is L2-normalised over d as x * rsqrt(sum(x^2) + eps) (official form);
    Phi is L2-normalised over d and multiplied by the learned scalar scale
    (both are constants and get folded by the exporter)."""

    def __init__(self, d, n, p, h, eps=1e-6):
        super().__init__()
        self.n, self.p, self.d, self.eps = n, p, d, eps
        self.phi = _tag(nn.Parameter(torch.empty(d, n * p)), "phi")
        self.scale = _tag(nn.Parameter(torch.empty(())), "scale")
        self.experts = Experts(n, d, h)

    def forward(self, x):
        xn = x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True) + self.eps)
        phi = self.phi * torch.rsqrt((self.phi * self.phi).sum(dim=0, keepdim=True) + self.eps)
        logits = xn @ (self.scale * phi)                        # (B,m,n*p)
        dispatch = torch.softmax(logits, dim=1)                 # over tokens
        combine = torch.softmax(logits, dim=2)                  # over slots
        slots = torch.einsum("bms,bmd->bsd", dispatch, x)       # (B,n*p,d)
        slots = slots.reshape(-1, self.n, self.p, self.d)
        ex = self.experts
        h = ex.act(torch.einsum("bnpd,ndh->bnph", slots, ex.w1) + ex.b1[:, None, :])
        ys = torch.einsum("bnph,nhd->bnpd", h, ex.w2) + ex.b2[:, None, :]
        ys = ys.reshape(-1, self.n * self.p, self.d)
        return torch.einsum("bms,bsd->bmd", combine, ys)


# ----------------------------------------------------------------------------
# Per-image MoE (Mobile V-MoE)


class PerImageMoE(nn.Module):
    """x: (B, S, d).  p = softmax(mean_S(x) @ W_r + b); top-k per image; every
    token of the image goes through each chosen expert, weighted by p_e.
    Exported as ReduceMean - router - TopK - ScatterElements gate broadcast
    over tokens (all experts evaluated, gate zero for the unchosen ones)."""

    def __init__(self, d, h, E, k=1):
        super().__init__()
        self.E, self.k = E, k
        self.router = nn.Linear(d, E)
        _tag(self.router.weight, "router", d)
        self.experts = Experts(E, d, h)
        self.record = False
        self.stats = None

    def forward(self, x):
        p = torch.softmax(self.router(x.mean(dim=1)), dim=-1)   # (B,E)
        topv, topi = torch.topk(p, self.k, dim=-1)
        gate = torch.zeros_like(p).scatter(1, topi, topv)       # (B,E)
        y = None
        for e in range(self.E):
            t = gate[:, e, None, None] * self.experts.one(e, x)
            y = t if y is None else y + t
        if self.record and not torch.jit.is_tracing():
            ps, _ = torch.sort(p, dim=-1, descending=True)
            self.stats = {"rows": p.shape[0], "E": self.E, "k": self.k,
                          "topk_margin": (ps[:, self.k - 1] - ps[:, self.k]).min().item(),
                          "chosen": topi.tolist()}
        return y


# ----------------------------------------------------------------------------
# helpers


def set_record(model, on=True):
    for m in model.modules():
        if isinstance(m, (MoE, PerImageMoE)):
            m.record = on
            m.stats = None


def collect_stats(model):
    out = []
    for name, m in model.named_modules():
        if isinstance(m, (MoE, PerImageMoE)) and m.stats is not None:
            out.append((name, m.stats))
    return out
