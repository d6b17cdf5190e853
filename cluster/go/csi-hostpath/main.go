// kube-e2e-hostpath is the CSI driver of the kube-e2e local cluster: volumes are directories
// on one node (a block volume's holds an image file the node attaches to a loop device),
// snapshots are tar archives of them. One binary serves the Identity, Controller
// and Node services, and registers itself with kubelet (the job node-driver-registrar does
// elsewhere) when given --kubelet-registration-path.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// version is reported by GetPluginInfo and --version.
const version = "0.1.0"

func main() {
	var (
		endpoint         = flag.String("endpoint", "unix:///csi/csi.sock", "CSI endpoint (unix://PATH)")
		driverName       = flag.String("drivername", "hostpath.csi.kube-e2e.io", "name of the driver")
		nodeID           = flag.String("nodeid", "", "name of the node (required)")
		stateDir         = flag.String("statedir", "/csi-data-dir", "where volumes, snapshots and the state file live")
		capacity         = flag.Int64("capacity", 10<<30, "total bytes volumes may use")
		maxVolumes       = flag.Int64("maxvolumespernode", 0, "how many of this driver's volumes a node may have (0: no limit)")
		registrationPath = flag.String("kubelet-registration-path", "", "the CSI socket's path as kubelet sees it; enables kubelet plugin registration")
		registrationDir  = flag.String("plugin-registration-dir", "/registration", "kubelet's plugins_registry directory")
		showVersion      = flag.Bool("version", false, "print the version and exit")
	)
	flag.Parse()
	if *showVersion {
		fmt.Printf("kube-e2e-hostpath %s\n", version)
		return
	}
	if *nodeID == "" {
		log.Fatal("--nodeid is required")
	}
	d, err := newDriver(*driverName, *nodeID, *stateDir, *capacity)
	if err != nil {
		log.Fatal(err)
	}
	d.maxVolumes = *maxVolumes

	csiServer, csiSocket, err := serve(*endpoint, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, d)
		csi.RegisterControllerServer(s, d)
		csi.RegisterNodeServer(s, d)
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s %s serving CSI on %s (node %s, state %s)", *driverName, version, csiSocket, *nodeID, *stateDir)

	sockets := []string{csiSocket}
	servers := []*grpc.Server{csiServer}
	if *registrationPath != "" {
		regSocket := filepath.Join(*registrationDir, *driverName+"-reg.sock")
		r := &registrar{driverName: *driverName, endpoint: *registrationPath}
		regServer, _, err := serve("unix://"+regSocket, func(s *grpc.Server) {
			registration.RegisterRegistrationServer(s, r)
		})
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("waiting for kubelet on %s (endpoint %s)", regSocket, *registrationPath)
		sockets = append(sockets, regSocket)
		servers = append(servers, regServer)
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	sig := <-signals
	log.Printf("%s: stopping", sig)
	// Removing the registration socket is how kubelet learns the plugin is gone.
	for i := len(servers) - 1; i >= 0; i-- {
		servers[i].Stop()
		_ = os.Remove(sockets[i])
	}
}

// serve listens on a unix endpoint (removing a stale socket first) and serves gRPC on it.
func serve(endpoint string, register func(*grpc.Server)) (*grpc.Server, string, error) {
	path := strings.TrimPrefix(endpoint, "unix://")
	if path == endpoint && strings.Contains(endpoint, "://") {
		return nil, "", fmt.Errorf("endpoint %q: only unix:// endpoints are supported", endpoint)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, "", err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, "", fmt.Errorf("remove stale socket: %w", err)
	}
	listener, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", err
	}
	server := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	register(server)
	go func() {
		if err := server.Serve(listener); err != nil {
			log.Fatalf("serve %s: %v", path, err)
		}
	}()
	return server, path, nil
}

// logCalls logs every call and the errors it returns, except the frequent probes.
func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	quiet := strings.HasSuffix(info.FullMethod, "/Probe") || strings.HasSuffix(info.FullMethod, "/NodeGetVolumeStats") ||
		strings.HasSuffix(info.FullMethod, "/GetCapacity") || strings.HasSuffix(info.FullMethod, "Capabilities")
	if err != nil {
		log.Printf("%s: error: %v", info.FullMethod, err)
	} else if !quiet {
		log.Printf("%s: ok", info.FullMethod)
	}
	return resp, err
}
