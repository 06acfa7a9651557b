# Shared by the benchmark scripts (sourced, not run).

# id_of <name>: the instance id of the instance named <name> in the lab whose state is
# in $state, asked of `$vpclab status --json`.
id_of() {
  "$vpclab" --state-dir "$state" status --json | python3 -c \
    'import json,sys; m=json.load(sys.stdin)["model"]["instances"]; print(next(i["id"] for i in m.values() if i["tags"].get("Name")==sys.argv[1]))' "$1"
}

# ipv6_of <name>: the first IPv6 address of the instance named <name> (see id_of).
ipv6_of() {
  "$vpclab" --state-dir "$state" status --json | python3 -c \
    'import json,sys; m=json.load(sys.stdin)["model"]["instances"]; i=next(i for i in m.values() if i["tags"].get("Name")==sys.argv[1]); print((i.get("ipv6_addresses") or ["nan"])[0])' "$1"
}
