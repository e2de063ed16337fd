"""Plain numpy references for the op_src kernels: brute force over all periodic images,
explicit loops, no cleverness. The math is DESIGN.md's; the ops are tested against these."""

from __future__ import annotations

import itertools

import numpy as np


def image_shifts(coord: np.ndarray, box: np.ndarray | None, rcut: float) -> np.ndarray:
    """Integer lattice shifts (nimg, 3) that reach every image within rcut of any atom,
    the zero shift first. Coordinates need not lie inside the box."""
    if box is None:
        return np.zeros((1, 3), dtype=int)
    box = np.asarray(box, dtype=float).reshape(3, 3)
    frac = coord @ np.linalg.inv(box)
    volume = abs(np.linalg.det(box))
    face = [volume / np.linalg.norm(np.cross(box[(k + 1) % 3], box[(k + 2) % 3])) for k in range(3)]
    span = np.ptp(frac, axis=0) if len(frac) else np.zeros(3)
    reach = [int(np.ceil(rcut / face[k] + span[k])) + 1 for k in range(3)]
    shifts = [s for s in itertools.product(*(range(-m, m + 1) for m in reach)) if any(s)]
    return np.array([(0, 0, 0)] + shifts, dtype=int)


def neighbors(coord, atype, box, rcut, sel, centre=None, mixed_types=False):
    """One frame: nlist (natoms, nnei), rij (natoms, nnei, 3), counts (natoms, len(sel));
    with centre given, the rows of that atom alone: (nnei,), (nnei, 3), (len(sel),).

    Every image of every atom (except an atom's own zero-shift copy) with distance < rcut is a
    neighbour; per type, sorted by (distance, atom index), the first sel[t] kept. With
    mixed_types every type is "type 0": one block of sel[0] for the nearest of any type."""
    coord = np.asarray(coord, dtype=float)
    atype = np.zeros(len(coord), dtype=int) if mixed_types else atype
    natoms, ntypes, nnei = len(coord), len(sel), sum(sel)
    shifts = image_shifts(coord, box, rcut)
    offsets = shifts @ np.asarray(box).reshape(3, 3) if box is not None else np.zeros((1, 3))
    begin = np.concatenate([[0], np.cumsum(sel)])
    nlist = -np.ones((natoms, nnei), dtype=int)
    rij = np.zeros((natoms, nnei, 3))
    counts = np.zeros((natoms, ntypes), dtype=int)
    for i in range(natoms) if centre is None else [centre]:
        d = coord[None, :, :] + offsets[:, None, :] - coord[i]  # (nimg, natoms, 3)
        r2 = np.sum(d * d, axis=-1)
        found = []
        for img, j in zip(*np.nonzero(r2 < rcut * rcut)):
            if img == 0 and j == i:
                continue
            found.append((r2[img, j], j, img))
        found.sort()
        for _, j, img in found:
            t = atype[j]
            slot = counts[i, t]
            counts[i, t] += 1
            if slot < sel[t]:
                nlist[i, begin[t] + slot] = j
                rij[i, begin[t] + slot] = d[img, j]
    if centre is not None:
        return nlist[centre], rij[centre], counts[centre]
    return nlist, rij, counts


def switch(r: np.ndarray, rcut_smth: float, rcut: float) -> np.ndarray:
    """s(r) = 1/r below rcut_smth, (1/r)(u^3(-6u^2 + 15u - 10) + 1) up to rcut, 0 beyond."""
    r = np.asarray(r, dtype=float)
    u = (r - rcut_smth) / (rcut - rcut_smth)
    smooth = (u**3 * (-6 * u**2 + 15 * u - 10) + 1) / r
    return np.where(r < rcut_smth, 1.0 / r, np.where(r < rcut, smooth, 0.0))


def env_mat(rij, nlist, atype, avg, std, rcut_smth, rcut, kind="a"):
    """One frame: (R_ij - avg[type_i]) / std[type_i], R_ij = (s, s x/r, s y/r, s z/r) for
    kind "a", (s) for kind "r"; empty slots have a zero raw row."""
    nloc, nnei = nlist.shape
    ncomp = 4 if kind == "a" else 1
    em = np.zeros((nloc, nnei, ncomp))
    for i in range(nloc):
        for jj in range(nnei):
            raw = np.zeros(ncomp)
            if nlist[i, jj] >= 0:
                r = np.linalg.norm(rij[i, jj])
                s = switch(r, rcut_smth, rcut)
                raw[0] = s
                if kind == "a":
                    raw[1:] = s * rij[i, jj] / r
            em[i, jj] = (raw - avg[atype[i], jj]) / std[atype[i], jj]
    return em


def prod_force(net_deriv, em_deriv, nlist, nall):
    """One frame: F_i += g_ij, F_j -= g_ij with g_ij = sum_c net_deriv[c] em_deriv[c, :]."""
    nloc, nnei = nlist.shape
    force = np.zeros((nall, 3))
    for i in range(nloc):
        for jj in range(nnei):
            j = nlist[i, jj]
            if j < 0:
                continue
            g = net_deriv[i, jj] @ em_deriv[i, jj]
            force[i] += g
            force[j] -= g
    return force


def prod_virial(net_deriv, em_deriv, rij, nlist, nall):
    """One frame: atom_virial[j] -= outer(g_ij, r_ij); virial = sum of atom_virial."""
    nloc, nnei = nlist.shape
    atom_virial = np.zeros((nall, 3, 3))
    for i in range(nloc):
        for jj in range(nnei):
            j = nlist[i, jj]
            if j < 0:
                continue
            g = net_deriv[i, jj] @ em_deriv[i, jj]
            atom_virial[j] -= np.outer(g, rij[i, jj])
    return atom_virial.sum(axis=0).reshape(9), atom_virial.reshape(nall, 9)


def canonical_rows(nlist, rij, sel, decimals=8):
    """Per centre and type block, the (rounded distance, index, rounded rij) of each filled
    slot, sorted: equal for two lists that differ only in how exact ties were ordered."""
    begin = np.concatenate([[0], np.cumsum(sel)])
    rows = []
    for i in range(len(nlist)):
        blocks = []
        for t in range(len(sel)):
            sl = slice(begin[t], begin[t + 1])
            entries = [
                (round(float(np.linalg.norm(v)), decimals), int(j), tuple(np.round(v, decimals)))
                for j, v in zip(nlist[i, sl], rij[i, sl])
                if j >= 0
            ]
            blocks.append(sorted(entries))
        rows.append(blocks)
    return rows


def embedding_net(x, variables, scope, activation=np.tanh):
    """deepkit.nn.layers.embedding_net from its variables (`scope/matrix_k`, `bias_k`,
    `idt_k`): a layer of equal width adds its input, of double width [x, x]."""
    k = 0
    while f"{scope}/matrix_{k}" in variables:
        w = variables[f"{scope}/matrix_{k}"]
        y = activation(x @ w + variables.get(f"{scope}/bias_{k}", 0.0))
        y = y * variables.get(f"{scope}/idt_{k}", 1.0)
        if w.shape[1] == w.shape[0]:
            x = x + y
        elif w.shape[1] == 2 * w.shape[0]:
            x = np.concatenate([x, x], axis=-1) + y
        else:
            x = y
        k += 1
    return x


def se_atten(em, nlist, atype, avg, std, variables, keys):
    """One frame of se_atten's descriptor (DeePMD-kit's TensorFlow DPA-1), slot by slot.

    em (nloc, nnei, 4) the op's normalised rows, nlist (nloc, nnei) type-blind, atype
    (nall,), avg/std (ntypes, nnei, 4), variables by name, keys the normalised descriptor
    keys plus `strip`, `smooth`, `ntypes`, `tebd_activation`."""
    ntypes, nloc, nnei = keys["ntypes"], nlist.shape[0], nlist.shape[1]
    inputs = keys.get("tebd_inputs", np.eye(ntypes))
    table = embedding_net(inputs, variables, "type_embed_net", keys["tebd_activation"])
    table = np.concatenate([table, np.zeros((1, table.shape[1]))])
    excluded = {tuple(p) for p in keys["exclude_types"]} | {
        tuple(p[::-1]) for p in keys["exclude_types"]
    }
    out = []
    for i in range(nloc):
        ti = atype[i]
        nei = np.where(nlist[i] >= 0, atype[np.maximum(nlist[i], 0)], ntypes)
        allowed = np.array([(ti, nei[j]) not in excluded for j in range(nnei)])
        keep = allowed & (nlist[i] >= 0)
        rows = em[i] * allowed[:, None]  # empty slots keep their row, excluded ones do not
        s = rows[:, 0] * std[ti, 0, 0] + avg[ti, 0, 0]
        weight = np.clip(1 - (1 - keys["rcut_smth"] * s) ** 3, 0, 1) * allowed
        if not keys["smooth"]:
            weight = keep.astype(float)
        if keys["strip"]:
            g = embedding_net(rows[:, :1], variables, "filter_type_all")
            pair = np.concatenate([table[nei], np.repeat(table[ti][None], nnei, 0)], axis=1)
            t = embedding_net(pair, variables, "filter_type_all_two_side")
            if keys["smooth"]:
                t = t * weight[:, None]
            g = g * t + g
        else:
            columns = [rows[:, :1], table[nei]]
            if not keys["type_one_side"]:
                columns.append(np.repeat(table[ti][None], nnei, 0))
            g = embedding_net(np.concatenate(columns, axis=1), variables, "filter_type_all")
        for layer in range(keys["attn_layer"]):
            scope = f"attention_layer_{layer}"

            def project(name, g=g, scope=scope):
                y = g @ variables[f"{scope}/matrix_{name}"] + variables[f"{scope}/bias_{name}"]
                return y / np.sqrt(np.maximum((y * y).sum(axis=1, keepdims=True), 1e-12))

            q, k, v = project("c_query"), project("c_key"), project("c_value")
            scores = q @ k.T
            if keys["smooth"]:
                pw = weight[:, None] * weight[None, :]
                scores = (scores + 20.0) * pw - 20.0
            else:
                scores = np.where(keep[None, :], scores, -float(2 << 32))
            a = np.exp(scores - scores.max(axis=1, keepdims=True))
            a = a / a.sum(axis=1, keepdims=True)
            a = a * (pw if keys["smooth"] else keep[:, None])
            if keys["attn_dotr"]:
                r = rows[:, 1:]
                r = r / np.sqrt(np.maximum((r * r).sum(axis=1, keepdims=True), 1e-12))
                a = a * (r @ r.T)
            if keys["attn_mask"]:
                a = a * (1 - np.eye(nnei))
            x = g + (a @ v) @ variables[f"{scope}/matrix_c_out"] + variables[f"{scope}/bias_c_out"]
            mean = x.mean(axis=1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
            g = (x - mean) / np.sqrt(var + keys["ln_eps"])
            g = g * variables[f"{scope}/layer_normalization/gamma"]
            g = g + variables[f"{scope}/layer_normalization/beta"]
        total = g.T @ rows / nnei  # (M1, 4)
        d = total @ total[: keys["axis_neuron"]].T
        out.append(np.concatenate([d.ravel(), table[ti]]))
    return np.array(out)
