package peer

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

// specCount is PEER_SPECS, 50 when unset.
func specCount(t *testing.T) int {
	v := os.Getenv("PEER_SPECS")
	if v == "" {
		return 50
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("PEER_SPECS=%q: expected a number of specs", v)
	}
	return n
}

// TestConfigMap runs one feature per subtest (crud-00, crud-01, ...); each subtest is parallel,
// so -parallel decides how many run at once and -run 'TestConfigMap/^crud-07$' runs one.
func TestConfigMap(t *testing.T) {
	for i := range specCount(t) {
		name := fmt.Sprintf("crud-%02d", i)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testenv.Test(t, crud(name))
		})
	}
}

func crud(name string) features.Feature {
	return features.New("ConfigMap "+name).
		Assess("create, get, update, delete", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			ns := namespaceOf(ctx)
			r := cfg.Client().Resources(ns)
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "peer", Namespace: ns},
				Data:       map[string]string{"key": "created"},
			}
			if err := r.Create(ctx, cm); err != nil {
				t.Fatalf("creating the ConfigMap: %v", err)
			}
			var got corev1.ConfigMap
			if err := r.Get(ctx, "peer", ns, &got); err != nil {
				t.Fatalf("getting the ConfigMap: %v", err)
			}
			if got.Data["key"] != "created" {
				t.Fatalf("the ConfigMap read back has data %v", got.Data)
			}
			got.Data["key"] = "updated"
			if err := r.Update(ctx, &got); err != nil {
				t.Fatalf("updating the ConfigMap: %v", err)
			}
			if got.Data["key"] != "updated" {
				t.Fatalf("the updated ConfigMap has data %v", got.Data)
			}
			if err := r.Delete(ctx, &got); err != nil {
				t.Fatalf("deleting the ConfigMap: %v", err)
			}
			return ctx
		}).
		Feature()
}
