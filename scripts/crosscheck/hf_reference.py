#!/usr/bin/python3
"""Independent reference for the crosscheck (scripts/crosscheck/run.ts): the forward pass written the way
the Hugging Face modeling code computes it (modeling_llama / modeling_qwen2 / modeling_qwen3 /
modeling_gemma2 traits that the builder emits), in float64 torch, from the weights stored in a built
model's ONNX graph. Prints JSON: logits and present K/V of every layer and position, and the greedy
continuation recomputed by full forward passes.

Run with Debian's own python3 (python3-torch, python3-onnx): /usr/bin/python3 hf_reference.py GRAPH CONFIG INPUT.json
"""
import json
import math
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

graph_path, config_path, input_path = sys.argv[1:4]
cfg = json.load(open(config_path))
inp = json.load(open(input_path))
model = onnx.load(graph_path)  # external data is read from the graph's folder
W = {t.name: torch.from_numpy(numpy_helper.to_array(t).astype(np.float64)) for t in model.graph.initializer}

L = cfg["num_hidden_layers"]
H = cfg["hidden_size"]
NH = cfg["num_attention_heads"]
NKV = cfg["num_key_value_heads"]
D = cfg.get("head_dim") or H // NH
eps = cfg["rms_norm_eps"]
theta = cfg["rope_theta"]
mt = cfg["model_type"]
tied = cfg.get("tie_word_embeddings", False)
attn_cap = cfg.get("attn_logit_softcapping")
final_cap = cfg.get("final_logit_softcapping")
# Mistral: modeling_mistral masks key k for query q where k <= q - sliding_window
window = cfg.get("sliding_window") if mt in ("mistral", "phi3", "gemma2") else None


def rms(x, w):
    # LlamaRMSNorm: hidden_states.to(float32); variance = pow(2).mean(-1); x * rsqrt(variance + eps); weight * x
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def inv_freq():
    f = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        # transformers.modeling_rope_utils._compute_llama3_parameters
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / f
        f_llama = torch.where(wavelen > low_wavelen, f / factor, f)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * f_llama / factor + smooth * f_llama
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        f = torch.where(medium, smoothed, f_llama)
    return f


def rotate_half(x):
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def forward(ids):
    T = len(ids)
    pos = torch.arange(T, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq())
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()  # [T, D]
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    if mt == "gemma2":
        x = x * math.sqrt(H)  # Gemma: hidden_states * normalizer
    full = torch.tril(torch.ones(T, T, dtype=torch.bool))
    windowed = full & ~torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-window) if window else full
    present = []
    for l in range(L):
        p = f"model.layers.{l}"
        # Gemma2Attention: sliding_window if not bool(layer_idx % 2), i.e. on even layers only
        causal = windowed if (mt != "gemma2" or l % 2 == 0) else full
        h = rms(x, W[f"{p}.input_layernorm.weight"])

        def proj(which, n):
            y = h @ W[f"{p}.self_attn.{which}_proj.weight"]  # the ONNX stores Linear weights transposed: [in, out]
            b = W.get(f"{p}.self_attn.{which}_proj.bias")
            if b is not None:
                y = y + b  # Qwen2: q/k/v biases
            return y.view(T, n, D).transpose(0, 1)  # [n, T, D]

        if f"{p}.self_attn.qkv_proj.weight" in W:
            # Phi3Attention: qkv = qkv_proj(h); q = qkv[..., :NH*D]; k = the next NKV*D; v = the rest
            qkv = h @ W[f"{p}.self_attn.qkv_proj.weight"]
            qp = NH * D
            q = qkv[..., :qp].view(T, NH, D).transpose(0, 1)
            k = qkv[..., qp : qp + NKV * D].view(T, NKV, D).transpose(0, 1)
            v = qkv[..., qp + NKV * D :].view(T, NKV, D).transpose(0, 1)
        else:
            q, k, v = proj("q", NH), proj("k", NKV), proj("v", NKV)
        if f"{p}.self_attn.q_norm.weight" in W:  # Qwen3: q_norm / k_norm over head_dim, before RoPE
            q = rms(q, W[f"{p}.self_attn.q_norm.weight"])
            k = rms(k, W[f"{p}.self_attn.k_norm.weight"])
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        present.append((k, v))
        rep = NH // NKV
        kr = k.repeat_interleave(rep, dim=0)  # repeat_kv: query head h reads kv head h // rep
        vr = v.repeat_interleave(rep, dim=0)
        scores = (q @ kr.transpose(1, 2)) / math.sqrt(D)
        if attn_cap:
            scores = torch.tanh(scores / attn_cap) * attn_cap
        scores = scores.masked_fill(~causal, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ vr).transpose(0, 1).reshape(T, NH * D)
        x = x + ctx @ W[f"{p}.self_attn.o_proj.weight"]
        h2 = rms(x, W[f"{p}.post_attention_layernorm.weight"])
        if f"{p}.mlp.gate_up_proj.weight" in W:
            gate, up = (h2 @ W[f"{p}.mlp.gate_up_proj.weight"]).chunk(2, dim=-1)  # Phi3MLP: gate first
        else:
            gate = h2 @ W[f"{p}.mlp.gate_proj.weight"]
            up = h2 @ W[f"{p}.mlp.up_proj.weight"]
        x = x + (torch.nn.functional.silu(gate) * up) @ W[f"{p}.mlp.down_proj.weight"]
    xn = rms(x, W["model.norm.weight"])
    head = W["model.embed_tokens.weight"].T if tied else W["lm_head.weight"]
    logits = xn @ head
    if final_cap:
        logits = torch.tanh(logits / final_cap) * final_cap
    return logits, present


tokens = inp["tokens"]
prompt_len = inp["promptLen"]
logits, present = forward(tokens)
# greedy continuation, recomputed with a full forward per step
seq = list(tokens[:prompt_len])
greedy = []
for _ in range(len(tokens) - prompt_len):
    lg, _ = forward(seq)
    t = int(torch.argmax(lg[-1]).item())
    greedy.append(t)
    seq.append(t)

out = {
    "torch": torch.__version__,
    "logits": logits.tolist(),
    "kv": [[k.transpose(0, 1).reshape(len(tokens), NKV * D).tolist(), v.transpose(0, 1).reshape(len(tokens), NKV * D).tolist()] for k, v in present],
    "greedy": greedy,
}
json.dump(out, sys.stdout)
