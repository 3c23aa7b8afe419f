{
  "targets": [
    {
      "target_name": "hark_pcap",
      "sources": ["pcap_capture.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-l:libpcap.so.0.8"]
    },
    {
      "target_name": "hark_pipeline",
      "sources": ["addon.c", "frame_memo.c", "pcap_records.c", "repeat_keys.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
