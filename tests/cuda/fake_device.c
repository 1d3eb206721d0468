/* A stand-in for one CUDA device, so GeNN's cuda backend can generate and compile code on a machine
 * without a GPU (tests/test_genn_cuda_build.py). Preloaded (LD_PRELOAD) in front of the real CUDA
 * runtime, it answers the device queries GeNN makes while choosing a device and block sizes with one
 * sm_90 device, and it also serves as libcuda.so (the driver, absent here): every driver call fails
 * with CUDA_ERROR_NO_DEVICE, so nothing can run on the pretend device; loading a model still fails. */
#include <string.h>
#include <cuda_runtime_api.h>

typedef int CUresult;
#define FAKE_NO_DEVICE 100

cudaError_t cudaGetDeviceCount(int *count) { *count = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaRuntimeGetVersion(int *version) { *version = CUDART_VERSION; return cudaSuccess; }

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
    if (device != 0) {
        return cudaErrorInvalidDevice;
    }
    memset(prop, 0, sizeof(*prop));
    strcpy(prop->name, "hybridsnn fake sm_90 device");
    prop->major = 9;
    prop->minor = 0;
    prop->totalGlobalMem = (size_t)80 << 30;
    prop->sharedMemPerBlock = 48 * 1024;
    prop->sharedMemPerMultiprocessor = 228 * 1024;
    prop->regsPerBlock = 65536;
    prop->regsPerMultiprocessor = 65536;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsPerMultiProcessor = 2048;
    prop->maxBlocksPerMultiProcessor = 32;
    prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647;
    prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
    prop->multiProcessorCount = 132;
    prop->totalConstMem = 64 * 1024;
    prop->canMapHostMemory = 1;
    prop->unifiedAddressing = 1;
    prop->l2CacheSize = 50 << 20;
    return cudaSuccess;
}

/* The driver API calls GeNN's cuda backend links against. */
CUresult cuGetErrorName(CUresult error, const char **name) { (void)error; *name = "CUDA_ERROR_NO_DEVICE"; return 0; }
CUresult cuDeviceGet(void *device, int ordinal) { (void)device; (void)ordinal; return FAKE_NO_DEVICE; }
CUresult cuCtxCreate_v4(void *ctx, void *params, unsigned int flags, int device)
{ (void)ctx; (void)params; (void)flags; (void)device; return FAKE_NO_DEVICE; }
CUresult cuCtxDestroy_v2(void *ctx) { (void)ctx; return FAKE_NO_DEVICE; }
CUresult cuCtxSetCurrent(void *ctx) { (void)ctx; return FAKE_NO_DEVICE; }
CUresult cuModuleLoad(void *module, const char *path) { (void)module; (void)path; return FAKE_NO_DEVICE; }
CUresult cuModuleUnload(void *module) { (void)module; return FAKE_NO_DEVICE; }
CUresult cuModuleGetFunction(void *fn, void *module, const char *name)
{ (void)fn; (void)module; (void)name; return FAKE_NO_DEVICE; }
CUresult cuFuncGetAttribute(int *value, int attribute, void *fn)
{ (void)value; (void)attribute; (void)fn; return FAKE_NO_DEVICE; }
