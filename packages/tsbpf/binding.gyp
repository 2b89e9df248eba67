{
  "targets": [
    {
      "target_name": "tsbpf_native",
      "sources": ["native/tsbpf_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
