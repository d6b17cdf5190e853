package main

import (
	"context"
	"log"

	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// registrar answers kubelet's plugin watcher on <plugins_registry>/<driver>-reg.sock.
type registrar struct {
	registration.UnimplementedRegistrationServer
	driverName string
	endpoint   string
}

func (r *registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{
		Type:              registration.CSIPlugin,
		Name:              r.driverName,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if s.GetPluginRegistered() {
		log.Printf("kubelet registered %s", r.driverName)
	} else {
		// As node-driver-registrar does: exit, so the container restarts and tries again.
		log.Fatalf("kubelet refused to register %s: %s", r.driverName, s.GetError())
	}
	return &registration.RegistrationStatusResponse{}, nil
}
