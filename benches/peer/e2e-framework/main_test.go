// Package peer is the e2e-framework half of the peer benchmark (benches/benches/peer.rs): the
// same ConfigMap specs as benches/peer/kube_e2e_suite.rs, written with sigs.k8s.io/e2e-framework.
//
// Every feature gets a namespace of its own from a BeforeEachFeature hook, which also waits for
// the namespace's default ServiceAccount with a watch (as the Kubernetes e2e framework does);
// AfterEachFeature issues the namespace's deletion and does not wait for it.
//
//	KUBECONFIG=... PEER_SPECS=5 go test -count=1 -parallel 8 .
package peer

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/e2e-framework/klient/conf"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

// How long a new namespace may take to get its default ServiceAccount.
const serviceAccountTimeout = 2 * time.Minute

var (
	testenv   env.Environment
	clientset kubernetes.Interface
)

type namespaceKey struct{}

// namespaceOf is the namespace BeforeEachFeature created for the running feature.
func namespaceOf(ctx context.Context) string {
	return ctx.Value(namespaceKey{}).(string)
}

func TestMain(m *testing.M) {
	testenv = env.NewWithConfig(envconf.NewWithKubeConfig(conf.ResolveKubeConfigFile()))
	testenv.Setup(func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		cs, err := kubernetes.NewForConfig(cfg.Client().RESTConfig())
		if err != nil {
			return ctx, fmt.Errorf("building a clientset: %w", err)
		}
		clientset = cs
		return ctx, nil
	})
	testenv.BeforeEachFeature(createNamespace)
	testenv.AfterEachFeature(deleteNamespace)
	os.Exit(testenv.Run(m))
}

func createNamespace(ctx context.Context, cfg *envconf.Config, t *testing.T, _ features.Feature) (context.Context, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: envconf.RandomName("peer", 16)}}
	if err := cfg.Client().Resources().Create(ctx, ns); err != nil {
		return ctx, fmt.Errorf("creating namespace %s: %w", ns.Name, err)
	}
	if err := waitForDefaultServiceAccount(ctx, ns.Name); err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, namespaceKey{}, ns.Name), nil
}

// waitForDefaultServiceAccount watches for the namespace's default ServiceAccount, as the
// Kubernetes e2e framework's WaitForDefaultServiceAccountInNamespace does.
func waitForDefaultServiceAccount(ctx context.Context, ns string) error {
	lw := cache.NewListWatchFromClient(clientset.CoreV1().RESTClient(), "serviceaccounts", ns,
		fields.OneTermEqualSelector("metadata.name", "default"))
	ctx, cancel := context.WithTimeout(ctx, serviceAccountTimeout)
	defer cancel()
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.ServiceAccount{}, nil,
		func(e watch.Event) (bool, error) { return e.Type != watch.Deleted, nil })
	if err != nil {
		return fmt.Errorf("waiting for the default ServiceAccount in %s: %w", ns, err)
	}
	return nil
}

func deleteNamespace(ctx context.Context, cfg *envconf.Config, t *testing.T, _ features.Feature) (context.Context, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceOf(ctx)}}
	if err := cfg.Client().Resources().Delete(ctx, ns); err != nil {
		return ctx, fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
	}
	return ctx, nil
}
