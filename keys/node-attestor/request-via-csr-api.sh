#!/usr/bin/env bash
# Mints the bootstrap credential of the user "spire-agent" WITHOUT the cluster CA key: a fresh
# private key, a CertificateSigningRequest with signer kubernetes.io/kube-apiserver-client, and
# an admin's approval (Kubernetes never auto-approves this signer). Works on any cluster whose
# controller manager signs with the cluster CA (kubeadm, minikube, kind, …).
#
# usage: request-via-csr-api.sh [-o out-dir] [-u user] [-e expiration-seconds] [-t timeout-seconds] [-a]
#   -o  output directory          (default: this script's directory)
#   -u  user name (CN)            (default: spire-agent)
#   -e  certificate lifetime, s   (default: 31536000 = 1 year; the signer may cap it)
#   -t  how long to wait, s       (default: 600)
#   -a  approve it yourself too   (needs "approve" on signers kubernetes.io/kube-apiserver-client)
# kubectl comes from $KUBECTL or PATH and uses your current kubeconfig ($KUBECONFIG).
# writes <out>/<user>.key (0600), <out>/<user>.csr, <out>/<user>.crt
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kubectl=${KUBECTL:-kubectl}
out=$here
user=spire-agent
expiration=31536000
timeout=600
approve=0
while getopts "o:u:e:t:ah" opt; do
  case "$opt" in
    o) out=$OPTARG ;;
    u) user=$OPTARG ;;
    e) expiration=$OPTARG ;;
    t) timeout=$OPTARG ;;
    a) approve=1 ;;
    h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-o out-dir] [-u user] [-e expiration-seconds] [-t timeout-seconds] [-a]" >&2; exit 2 ;;
  esac
done
[[ "$expiration" =~ ^[0-9]+$ ]] && [ "$expiration" -ge 600 ] ||
  { echo "request-via-csr-api.sh: -e must be a number of seconds >= 600, got '$expiration'" >&2; exit 2; }
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || { echo "request-via-csr-api.sh: -t must be a positive number of seconds" >&2; exit 2; }
command -v openssl >/dev/null || { echo "request-via-csr-api.sh: openssl is required" >&2; exit 1; }
command -v "$kubectl" >/dev/null || { echo "request-via-csr-api.sh: kubectl not found (set KUBECTL)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d "$out/.csrapi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key" 2>/dev/null)
openssl req -new -key "$tmp/key" -subj "/CN=$user" -out "$tmp/csr"
name="$user-bootstrap-$(openssl rand -hex 4)"
cat >"$tmp/csr.yaml" <<YAML
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: $name
spec:
  request: $(base64 -w0 <"$tmp/csr")
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: $expiration
  usages: ["digital signature", "client auth"]
YAML
"$kubectl" create -f "$tmp/csr.yaml" >/dev/null
echo "created CertificateSigningRequest $name (signer kubernetes.io/kube-apiserver-client, CN=$user)" >&2
if [ "$approve" = 1 ]; then
  "$kubectl" certificate approve "$name" >/dev/null
  echo "approved $name" >&2
else
  echo "waiting for an admin to run: kubectl certificate approve $name" >&2
fi
deadline=$((SECONDS + timeout))
while :; do
  denied=$("$kubectl" get csr "$name" -o jsonpath='{.status.conditions[?(@.type=="Denied")].message}{.status.conditions[?(@.type=="Failed")].message}')
  [ -z "$denied" ] || { echo "request-via-csr-api.sh: $name was denied or failed: $denied" >&2; exit 6; }
  cert=$("$kubectl" get csr "$name" -o jsonpath='{.status.certificate}')
  [ -z "$cert" ] || break
  [ $SECONDS -lt $deadline ] || { echo "request-via-csr-api.sh: $name not issued within ${timeout}s" >&2; exit 8; }
  sleep 1
done
printf '%s' "$cert" | base64 -d >"$tmp/crt"
[ "$(openssl x509 -in "$tmp/crt" -noout -pubkey)" = "$(openssl pkey -in "$tmp/key" -pubout)" ] ||
  { echo "request-via-csr-api.sh: the issued certificate does not match the new key" >&2; exit 7; }
mv "$tmp/key" "$out/$user.key"
mv "$tmp/csr" "$out/$user.csr"
mv "$tmp/crt" "$out/$user.crt"
echo "wrote $out/$user.key (0600) and $out/$user.crt ($(openssl x509 -in "$out/$user.crt" -noout -subject -enddate | tr '\n' ' '))"
