#!/bin/sh
# otlp_proto.sh FILE.jsonl NSPANS - decode an OTLP/JSON export with stock
# protobuf tools and the OTLP protobuf definitions (written below from
# opentelemetry-proto v1: common, resource, trace, collector/trace), not
# with anything of the project:
#   1. protoc compiles the definitions (Python classes, for Debian's
#      python3-protobuf);
#   2. each line is parsed by protobuf's own JSON parser into an
#      ExportTraceServiceRequest, strictly (an unknown field, a wrong type
#      or a bad enum fails), after the one change the OTLP spec makes to
#      the proto3 JSON mapping (trace and span ids in hex, not base64);
#      printing the message back to JSON must give the line's content
#      exactly (nothing dropped or retyped);
#   3. the binary encoding of every request is decoded again by
#      `protoc --decode` and must hold NSPANS spans, SERVER or CLIENT, with
#      16-byte trace ids and 8-byte span ids.
# Exit 0 when all hold.  Called by report.sh.
set -u
file=$1
want=$2
tmp=$(mktemp -d /tmp/otlp-proto.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
# Debian's interpreter: python3-protobuf is installed for it
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

d="$tmp/proto/opentelemetry/proto"
mkdir -p "$d/common/v1" "$d/resource/v1" "$d/trace/v1" "$d/collector/trace/v1" "$tmp/py"
cat >"$d/common/v1/common.proto" <<'EOF'
syntax = "proto3";
package opentelemetry.proto.common.v1;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue {
  string key = 1;
  AnyValue value = 2;
}
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
EOF
cat >"$d/resource/v1/resource.proto" <<'EOF'
syntax = "proto3";
package opentelemetry.proto.resource.v1;
import "opentelemetry/proto/common/v1/common.proto";
message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}
EOF
cat >"$d/trace/v1/trace.proto" <<'EOF'
syntax = "proto3";
package opentelemetry.proto.trace.v1;
import "opentelemetry/proto/common/v1/common.proto";
import "opentelemetry/proto/resource/v1/resource.proto";
message TracesData { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans {
  reserved 1000;
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeSpans scope_spans = 2;
  string schema_url = 3;
}
message ScopeSpans {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated Span spans = 2;
  string schema_url = 3;
}
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  enum SpanKind {
    SPAN_KIND_UNSPECIFIED = 0;
    SPAN_KIND_INTERNAL = 1;
    SPAN_KIND_SERVER = 2;
    SPAN_KIND_CLIENT = 3;
    SPAN_KIND_PRODUCER = 4;
    SPAN_KIND_CONSUMER = 5;
  }
  SpanKind kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  message Event {
    fixed64 time_unix_nano = 1;
    string name = 2;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 3;
    uint32 dropped_attributes_count = 4;
  }
  repeated Event events = 11;
  uint32 dropped_events_count = 12;
  message Link {
    bytes trace_id = 1;
    bytes span_id = 2;
    string trace_state = 3;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 4;
    uint32 dropped_attributes_count = 5;
    fixed32 flags = 6;
  }
  repeated Link links = 13;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message Status {
  reserved 1;
  string message = 2;
  enum StatusCode {
    STATUS_CODE_UNSET = 0;
    STATUS_CODE_OK = 1;
    STATUS_CODE_ERROR = 2;
  };
  StatusCode code = 3;
}
EOF
cat >"$d/collector/trace/v1/trace_service.proto" <<'EOF'
syntax = "proto3";
package opentelemetry.proto.collector.trace.v1;
import "opentelemetry/proto/trace/v1/trace.proto";
message ExportTraceServiceRequest {
  repeated opentelemetry.proto.trace.v1.ResourceSpans resource_spans = 1;
}
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
message ExportTracePartialSuccess {
  int64 rejected_spans = 1;
  string error_message = 2;
}
EOF
protos="opentelemetry/proto/common/v1/common.proto opentelemetry/proto/resource/v1/resource.proto
 opentelemetry/proto/trace/v1/trace.proto opentelemetry/proto/collector/trace/v1/trace_service.proto"
# shellcheck disable=SC2086
(cd "$tmp/proto" && protoc --python_out="$tmp/py" $protos) || { echo "protoc failed"; exit 1; }

PYTHONPATH="$tmp/py" "$PY" - "$file" "$tmp" <<'EOF' || exit 1
import base64, json, sys
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

src, out = sys.argv[1], sys.argv[2]
IDS = ("traceId", "spanId", "parentSpanId")

def ids(obj, conv):
    """Apply conv to the id fields of every span (the OTLP/JSON exception)."""
    for rs in obj.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                for k in IDS:
                    if k in s:
                        s[k] = conv(s[k])
    return obj

for n, line in enumerate(open(src, encoding="utf-8"), 1):
    orig = json.loads(line)
    msg = trace_service_pb2.ExportTraceServiceRequest()
    as_proto3 = ids(json.loads(line), lambda h: base64.b64encode(bytes.fromhex(h)).decode())
    json_format.ParseDict(as_proto3, msg, ignore_unknown_fields=False)
    back = ids(json_format.MessageToDict(msg, use_integers_for_enums=True),
               lambda b: base64.b64decode(b).hex())
    if back != orig:
        print("line %d: protobuf's reading differs from the JSON written" % n)
        print(json.dumps(orig)[:400])
        print(json.dumps(back)[:400])
        sys.exit(1)
    open("%s/%04d.bin" % (out, n), "wb").write(msg.SerializeToString())
EOF

nspans=0
for bin in "$tmp"/*.bin; do
	protoc -I "$tmp/proto" --decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest \
		opentelemetry/proto/collector/trace/v1/trace_service.proto <"$bin" >"$tmp/text" ||
		{ echo "protoc --decode failed on $bin"; exit 1; }
	n=$(grep -c '^ *spans {' "$tmp/text")
	k=$(grep -cE '^ *kind: SPAN_KIND_(SERVER|CLIENT)$' "$tmp/text")
	# text format bytes: escaped octets; count them back from the escapes
	bad=$("$PY" - "$tmp/text" <<'EOF'
import re, sys
bad = 0
for l in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r'^\s*(trace_id|span_id|parent_span_id): "(.*)"$', l)
    if not m:
        continue
    v = m.group(2).encode("latin-1").decode("unicode_escape").encode("latin-1")
    bad += len(v) != (16 if m.group(1) == "trace_id" else 8)
print(bad)
EOF
)
	[ "$n" = "$k" ] && [ "$bad" = 0 ] || { echo "$bin: $n spans, $k SERVER/CLIENT, $bad bad ids"; exit 1; }
	nspans=$((nspans + n))
done
[ "$nspans" = "$want" ] || { echo "protoc decoded $nspans spans, want $want"; exit 1; }
echo "otlp_proto: protoc decoded $nspans spans"
