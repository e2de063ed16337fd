// A frozen GraphDef's float64 products as deepkit's AVX2/FMA ops, on the serialized bytes.
//
// Frozen models hold TensorFlow's MatMul / BatchMatMulV2, which run on any device; where the
// CPU has AVX2 and FMA and TensorFlow sees no GPU, Session::open swaps them for DkMatMul /
// DkBatchMatMul before importing (what deepkit.model.frozen.specialise_for_cpu does for
// DeepPot). The protobuf wire format is walked by hand: no protobuf library, no TensorFlow
// headers. Pure functions of their input; nothing throws.
#pragma once

#include <string>

namespace deepkit {
namespace capi {

// `graph_def` (a serialized tensorflow.GraphDef) with every node, at the top or in a function
// of its library (a streamed frozen model's while loop), that is a MatMul,
// BatchMatMul, BatchMatMulV2 or BatchMatMulV3 with float64 operands, placed on the CPU or
// nowhere and carrying only attrs the rewrite knows, turned into DkMatMul / DkBatchMatMul
// (adj_x / adj_y -> transpose_a / transpose_b; element types and gradient hints dropped).
// Every other byte is copied as it is. Returns false and a one-line *error when the bytes are
// not a well-formed GraphDef down to the attrs it reads; else *out and *rewritten (the count
// of nodes changed). `out` may not alias `graph_def`.
bool specialise_for_cpu(const std::string& graph_def, std::string* out, int* rewritten,
                        std::string* error);

// The device string of a NodeDef names the CPU ("/device:CPU:0", "/job:x/device:CPU:0",
// "/cpu:0") or is empty, as deepkit.model.frozen reads it.
bool placed_on_cpu(const std::string& device);

}  // namespace capi
}  // namespace deepkit
