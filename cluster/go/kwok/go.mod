// Wrapper module that builds the kwok controller for simulated nodes.
module kube-e2e.invalid/kwok-build

go 1.26.0

require sigs.k8s.io/kwok v0.8.0
