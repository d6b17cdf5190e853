// Wrapper module that builds etcd: go.etcd.io/etcd/server/v3 has local replace
// directives, so it cannot be installed with `go install` directly.
module kube-e2e.invalid/etcd-build

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.16
