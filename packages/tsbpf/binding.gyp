{
  "targets": [
    {
      "target_name": "tsbpf_native",
      "sources": ["native/tsbpf_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
