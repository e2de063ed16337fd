// TensorFlow's C API, opened at run time.
//
// libdeepkit_c.so does not link TensorFlow: TensorFlow reads TF_CPP_MIN_LOG_LEVEL while
// its libraries initialise, so the first dk_load sets it (unless the caller did) and only
// then opens the libraries of the TensorFlow deepkit was built against (DEEPKIT_TF_LIB_DIR).
// A program linked with the C API also starts without loading TensorFlow's 800 MB.
#pragma once

#include <string>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/tf_tstring.h"

namespace deepkit {
namespace capi {

#define DEEPKIT_TF_FUNCTIONS(X)                                                            \
  X(TF_NewStatus) X(TF_DeleteStatus) X(TF_GetCode) X(TF_Message) X(TF_AllocateTensor)     \
  X(TF_DeleteTensor) X(TF_TensorData) X(TF_TensorByteSize) X(TF_DataTypeSize)             \
  X(TF_LoadLibrary) X(TF_DeleteLibraryHandle) X(TF_NewBufferFromString) X(TF_DeleteBuffer) \
  X(TF_NewGraph) X(TF_DeleteGraph) X(TF_NewImportGraphDefOptions)                         \
  X(TF_DeleteImportGraphDefOptions) X(TF_GraphImportGraphDef) X(TF_NewSessionOptions)     \
  X(TF_DeleteSessionOptions) X(TF_SetConfig) X(TF_NewSession) X(TF_CloseSession)          \
  X(TF_DeleteSession) X(TF_GraphOperationByName) X(TF_SessionRun)                         \
  X(TF_StringGetDataPointer) X(TF_StringGetSize) X(TF_TensorType) X(TF_NumDims)           \
  X(TF_SessionListDevices) X(TF_DeviceListCount) X(TF_DeviceListType)                     \
  X(TF_DeleteDeviceList)

// One pointer per function, named like the function.
struct TfApi {
#define DEEPKIT_TF_MEMBER(name) decltype(&::name) name;
  DEEPKIT_TF_FUNCTIONS(DEEPKIT_TF_MEMBER)
#undef DEEPKIT_TF_MEMBER
};

// Opens TensorFlow and deepkit's op library once per process: nullptr + message on failure.
const TfApi* open_tensorflow(std::string* error);

// The opened API; only valid after open_tensorflow succeeded.
const TfApi& tf();

}  // namespace capi
}  // namespace deepkit
