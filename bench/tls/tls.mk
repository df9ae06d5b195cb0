# bench/tls: what the TLS plaintext probes cost (bench/tls/tls_cost.sh, root):
# req/s of nginx over TLS under wrk without capture, with --no-tls and with
# the probes, and the BPF time of the TLS programs per request.
.PHONY: bench-tls
bench-tls: $(BUILD)/httpcap $(BUILD)/.deps-bench
	@BUILD=$(BUILD) bash bench/tls/tls_cost.sh
BENCHES += bench-tls
