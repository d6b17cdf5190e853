//go:build tools

// Package tools pins what this module builds: upstream's e2e test binary (`go test -c
// k8s.io/kubernetes/test/e2e`) and the ginkgo CLI that runs it in parallel.
package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/test/e2e"
)
