#!/usr/bin/env python3
"""Writes Schema.g.cs, the protobuf message table of the Kubernetes kinds the API takes, from the Go struct tags of
k8s.io/api and k8s.io/apimachinery (their types.go files are the one source of field numbers, JSON names, pointers and
omitempty).

    generate.py PATH   PATH holds checkouts of both repositories as api/ and apimachinery/

Only the messages the root kinds below reach are written. Anything the table cannot express (an unknown Go type, a map
with a non-string key, a named slice type) stops the script with the type's name instead of being guessed.
"""
import os
import re
import sys

# Package folder -> (API group, version); the folders' types.go are read.
PACKAGES = {
    "core/v1": ("", "v1"),
    "apps/v1": ("apps", "v1"),
    "batch/v1": ("batch", "v1"),
    "autoscaling/v1": ("autoscaling", "v1"),
    "autoscaling/v2": ("autoscaling", "v2"),
    "networking/v1": ("networking.k8s.io", "v1"),
    "discovery/v1": ("discovery.k8s.io", "v1"),
    "policy/v1": ("policy", "v1"),
    "rbac/v1": ("rbac.authorization.k8s.io", "v1"),
    "scheduling/v1": ("scheduling.k8s.io", "v1"),
    "coordination/v1": ("coordination.k8s.io", "v1"),
    "events/v1": ("events.k8s.io", "v1"),
    "storage/v1": ("storage.k8s.io", "v1"),
    "authentication/v1": ("authentication.k8s.io", "v1"),
    "authorization/v1": ("authorization.k8s.io", "v1"),
}

# The kinds a client may send as protobuf, by package.
ROOTS = {
    "core/v1": ["Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Pod", "Endpoints", "Event", "Node",
                "PersistentVolumeClaim", "PersistentVolume", "LimitRange", "ResourceQuota", "ReplicationController"],
    "apps/v1": ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision"],
    "batch/v1": ["Job", "CronJob"],
    "autoscaling/v1": ["HorizontalPodAutoscaler"],
    "autoscaling/v2": ["HorizontalPodAutoscaler"],
    "networking/v1": ["Ingress", "IngressClass", "NetworkPolicy"],
    "discovery/v1": ["EndpointSlice"],
    "policy/v1": ["PodDisruptionBudget", "Eviction"],
    "rbac/v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    "scheduling/v1": ["PriorityClass"],
    "coordination/v1": ["Lease"],
    "events/v1": ["Event"],
    "storage/v1": ["StorageClass"],
    "authentication/v1": ["TokenRequest"],
    "authorization/v1": ["SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectRulesReview"],
}

# Go types whose protobuf and JSON forms are not their struct's: the decoder knows each by its kind.
SPECIAL = {
    "k8s.io/apimachinery/pkg/apis/meta/v1.Time": "Time",
    "k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime": "MicroTime",
    "k8s.io/apimachinery/pkg/apis/meta/v1.FieldsV1": "RawJson",
    "k8s.io/apimachinery/pkg/runtime.RawExtension": "RawJson",
    "k8s.io/apimachinery/pkg/api/resource.Quantity": "Quantity",
    "k8s.io/apimachinery/pkg/util/intstr.IntOrString": "IntOrString",
    "k8s.io/apimachinery/pkg/types.UID": "String",
}
# Fields the table leaves out, so a protobuf body's value for them is skipped: a map of named lists (ExtraValue), whose
# protobuf form is a wrapper message the table cannot express. kubectl sends no user extras in its reviews.
SKIPPED_FIELDS = {"authorization/v1.SubjectAccessReviewSpec.Extra"}

SCALARS = {"string": "String", "int32": "Int32", "int64": "Int64", "bool": "Bool", "[]byte": "Bytes"}

META = "meta/v1"
META_IMPORT = "k8s.io/apimachinery/pkg/apis/meta/v1"


class Package:
    def __init__(self, key, files):
        self.key = key
        self.structs = {}   # name -> [(go name, type expr, tag, markers)]
        self.named = {}     # name -> underlying type expr
        self.imports = {}   # alias -> import path (one types.go per package)
        for path in files:
            self._read(path)

    def _read(self, path):
        imports = {}
        lines = open(path, encoding="utf-8").read().split("\n")
        in_import = False
        current = None
        markers = []  # the +listType / +listMapKey markers of the comment above the next field
        for line in lines:
            if line.startswith("import ("):
                in_import = True
                continue
            if in_import:
                if line.startswith(")"):
                    in_import = False
                    continue
                m = re.match(r'\s*(\w+)?\s*"([^"]+)"', line)
                if m:
                    imports[m.group(1) or m.group(2).rsplit("/", 1)[-1]] = m.group(2)
                continue
            m = re.match(r'import (\w+)?\s*"([^"]+)"', line)
            if m:
                imports[m.group(1) or m.group(2).rsplit("/", 1)[-1]] = m.group(2)
                continue
            if current is not None:
                if line.startswith("}"):
                    current = None
                    continue
                stripped = line.strip()
                if stripped.startswith("//"):
                    marker = re.match(r'//\s*\+(listType|listMapKey)=(\S+)', stripped)
                    if marker:
                        markers.append((marker.group(1), marker.group(2)))
                    continue
                if not stripped:
                    markers = []
                    continue
                m = re.match(r'(\w+)\s+([^\s`]+)\s+`([^`]*)`', stripped) or re.match(r'()([\w.*]+)\s+`([^`]*)`', stripped)
                if not m:
                    if "protobuf:" in stripped:
                        sys.exit(f"{self.key}: cannot read the field line {stripped!r}")
                    continue
                self.structs[current].append((m.group(1), m.group(2), m.group(3), markers))
                markers = []
                continue
            m = re.match(r'type (\w+) struct \{', line)
            if m:
                current = m.group(1)
                self.structs[current] = []
                markers = []
                continue
            m = re.match(r'type (\w+) (\S.*)$', line)
            if m and not m.group(2).startswith("interface"):
                self.named[m.group(1)] = m.group(2).strip()
        self.imports.update(imports)


def tag_value(tag, key):
    m = re.search(key + r':"([^"]*)"', tag)
    return m.group(1) if m else None


class Generator:
    def __init__(self, root):
        self.packages = {}
        for key in PACKAGES:
            folder = os.path.join(root, "api", key)
            self.packages[key] = Package(key, [os.path.join(folder, "types.go")])
        meta = os.path.join(root, "apimachinery", "pkg", "apis", "meta", "v1")
        self.packages[META] = Package(META, [os.path.join(meta, "types.go")])
        self.messages = {}  # "pkg.Name" -> [field line]
        self.order = []

    @staticmethod
    def package_of_import(path):
        if path == META_IMPORT:
            return META
        if path.startswith("k8s.io/api/"):
            key = path[len("k8s.io/api/"):]
            return key if key in PACKAGES else None
        return None

    def resolve(self, pkg, struct, expr):
        """(value kind, message key or None, pointer, repeated, map) of a Go type expression."""
        pointer = expr.startswith("*")
        expr = expr.lstrip("*")
        if expr in SCALARS:
            return SCALARS[expr], None, pointer, False, False
        if expr.startswith("map["):
            key, value = re.match(r'map\[([^\]]+)\](.+)', expr).groups()
            if self.resolve(pkg, struct, key)[0] != "String":
                sys.exit(f"{pkg.key}.{struct}: map key {key} is not a string")
            kind, message, _, repeated, is_map = self.resolve(pkg, struct, value)
            if repeated or is_map:
                sys.exit(f"{pkg.key}.{struct}: map value {value} is a list or map")
            return kind, message, pointer, False, True
        if expr.startswith("[]"):
            kind, message, _, repeated, is_map = self.resolve(pkg, struct, expr[2:])
            if repeated or is_map:
                sys.exit(f"{pkg.key}.{struct}: {expr} nests lists or maps")
            return kind, message, pointer, True, False
        if "." in expr:
            alias, name = expr.split(".", 1)
            path = pkg.imports.get(alias)
            if path is None:
                sys.exit(f"{pkg.key}.{struct}: unknown package {alias}")
            if f"{path}.{name}" in SPECIAL:
                return SPECIAL[f"{path}.{name}"], None, pointer, False, False
            target = self.package_of_import(path)
            if target is None:
                sys.exit(f"{pkg.key}.{struct}: {expr} is in a package the table does not read ({path})")
            kind, message, _, repeated, is_map = self.resolve_named(self.packages[target], name, struct)
            return kind, message, pointer, repeated, is_map
        kind, message, _, repeated, is_map = self.resolve_named(pkg, expr, struct)
        return kind, message, pointer, repeated, is_map

    def resolve_named(self, pkg, name, user):
        if pkg.key == META and f"{META_IMPORT}.{name}" in SPECIAL:
            return SPECIAL[f"{META_IMPORT}.{name}"], None, False, False, False
        if name in pkg.structs:
            self.message(pkg, name)
            return "Message", f"{pkg.key}.{name}", False, False, False
        if name in pkg.named:
            underlying = pkg.named[name]
            if underlying.startswith("[]") and underlying != "[]byte":
                sys.exit(f"{pkg.key}.{name}: a named list type (its protobuf may be a wrapper message)")
            return self.resolve(pkg, name, underlying)
        sys.exit(f"{pkg.key}: unknown type {name} (used by {user})")

    def message(self, pkg, name):
        key = f"{pkg.key}.{name}"
        if key in self.messages:
            return
        self.messages[key] = None
        lines = []
        for go_name, expr, tag, markers in pkg.structs[name]:
            proto = tag_value(tag, "protobuf")
            json = tag_value(tag, "json")
            if proto is None or proto == "-" or json == "-" or f"{key}.{go_name}" in SKIPPED_FIELDS:
                continue
            parts = proto.split(",")
            number = int(parts[1])
            json_parts = (json or "").split(",")
            json_name = json_parts[0]
            inline = "inline" in json_parts[1:]
            omitempty = "omitempty" in json_parts[1:]
            kind, message, pointer, repeated, is_map = self.resolve(pkg, name, expr)
            flags = []
            if pointer: flags.append("Pointer")
            if omitempty: flags.append("OmitEmpty")
            if repeated: flags.append("Repeated")
            if is_map: flags.append("Map")
            if inline:
                if kind != "Message" or repeated or is_map:
                    sys.exit(f"{key}.{go_name}: inline but not a message")
                flags.append("Inline")
            elif not json_name:
                sys.exit(f"{key}.{go_name}: no JSON name")
            args = [str(number), f'"{json_name}"', f"T.{kind}", " | ".join(f"F.{f}" for f in flags) or "F.None"]
            if message:
                args.append(f'"{message}"')
            # How a strategic merge patch treats the field (kubectl reads it from the OpenAPI document).
            strategy = tag_value(tag, "patchStrategy")
            merge_key = tag_value(tag, "patchMergeKey")
            if strategy:
                args.append(f'PatchStrategy: "{strategy}"')
            if merge_key:
                args.append(f'MergeKey: "{merge_key}"')
            # How server-side apply identifies a list's items: +listType (atomic, set, map) and +listMapKey.
            list_type = next((v for k, v in markers if k == "listType"), None)
            map_keys = [v for k, v in markers if k == "listMapKey"]
            if list_type:
                if not repeated:
                    sys.exit(f"{key}.{go_name}: +listType on a field that is not a list")
                args.append(f'ListType: "{list_type}"')
            if map_keys:
                if list_type != "map":
                    sys.exit(f"{key}.{go_name}: +listMapKey without +listType=map")
                args.append("ListMapKeys: [" + ", ".join(f'"{k}"' for k in map_keys) + "]")
            lines.append(f"            new({', '.join(args)}),")
        self.messages[key] = lines
        self.order.append(key)

    def write(self, out):
        roots = []
        for pkg_key, kinds in ROOTS.items():
            group, version = PACKAGES[pkg_key]
            api_version = f"{group}/{version}" if group else version
            for kind in kinds:
                self.resolve_named(self.packages[pkg_key], kind, kind)
                roots.append(f'        [("{api_version}", "{kind}")] = "{pkg_key}.{kind}",')
        with open(out, "w", encoding="utf-8") as f:
            f.write("// <auto-generated>\n// Written by generate.py from the Go struct tags of k8s.io/api and "
                    "k8s.io/apimachinery; see README.md.\n// </auto-generated>\n")
            f.write("using F = ContainerOps.Cluster.Api.Protobuf.FieldFlags;\nusing T = ContainerOps.Cluster.Api.Protobuf.ValueKind;\n\n")
            f.write("namespace ContainerOps.Cluster.Api.Protobuf;\n\ninternal static partial class Schema\n{\n")
            f.write("    /// <summary>The message of each (apiVersion, kind) a client may send as protobuf.</summary>\n")
            f.write("    private static readonly Dictionary<(string ApiVersion, string Kind), string> RootMessages = new()\n    {\n")
            f.write("\n".join(roots) + "\n    };\n\n")
            f.write("    /// <summary>Each message's fields: number, JSON name, value kind, flags and, for messages, the message.</summary>\n")
            f.write("    private static readonly Dictionary<string, Field[]> MessageFields = new()\n    {\n")
            for key in sorted(self.order):
                f.write(f'        ["{key}"] =\n        [\n')
                f.write("\n".join(self.messages[key]) + ("\n" if self.messages[key] else ""))
                f.write("        ],\n")
            f.write("    };\n}\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: generate.py PATH (a folder with checkouts of kubernetes/api as api/ and kubernetes/apimachinery as apimachinery/)")
    here = os.path.dirname(os.path.abspath(__file__))
    generator = Generator(sys.argv[1])
    generator.write(os.path.join(here, "Schema.g.cs"))
    print(f"{len(generator.order)} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
