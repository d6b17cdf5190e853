package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var mountCap = []*csi.VolumeCapability{{
	AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
	AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
}}

func create(t *testing.T, d *driver, name string, size int64, source *csi.VolumeContentSource) (*csi.Volume, error) {
	t.Helper()
	resp, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{
		Name:                name,
		CapacityRange:       &csi.CapacityRange{RequiredBytes: size},
		VolumeCapabilities:  mountCap,
		VolumeContentSource: source,
	})
	return resp.GetVolume(), err
}

func TestVolumesSnapshotsClonesAndCapacity(t *testing.T) {
	ctx := context.Background()
	d, err := newDriver("test.csi", "node-1", t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	v, err := create(t, d, "pvc-a", 40, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.GetAccessibleTopology()[0].GetSegments()[topologyKey]; got != "node-1" {
		t.Fatalf("topology %q, want node-1", got)
	}
	again, err := create(t, d, "pvc-a", 40, nil)
	if err != nil || again.GetVolumeId() != v.GetVolumeId() {
		t.Fatalf("a retried create must return the same volume: %v %v", again, err)
	}
	if _, err := create(t, d, "pvc-big", 61, nil); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over capacity: got %v, want ResourceExhausted", err)
	}
	capacity, _ := d.GetCapacity(ctx, &csi.GetCapacityRequest{})
	if capacity.GetAvailableCapacity() != 60 {
		t.Fatalf("available %d, want 60", capacity.GetAvailableCapacity())
	}

	dir := d.volumePath(v.GetVolumeId())
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "data"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap-1", SourceVolumeId: v.GetVolumeId()})
	if err != nil || !snap.GetSnapshot().GetReadyToUse() {
		t.Fatalf("snapshot: %v %v", snap, err)
	}
	snapID := snap.GetSnapshot().GetSnapshotId()
	restored, err := create(t, d, "pvc-restored", 40, &csi.VolumeContentSource{
		Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: snapID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	clone, err := create(t, d, "pvc-clone", 20, &csi.VolumeContentSource{
		Type: &csi.VolumeContentSource_Volume{Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: v.GetVolumeId()}},
	})
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("a clone smaller than its source: got %v %v, want OutOfRange", clone, err)
	}
	for _, id := range []string{restored.GetVolumeId()} {
		data, err := os.ReadFile(filepath.Join(d.volumePath(id), "sub", "data"))
		if err != nil || string(data) != "hello" {
			t.Fatalf("volume %s: %q %v", id, data, err)
		}
	}

	list, err := d.ListSnapshots(ctx, &csi.ListSnapshotsRequest{SourceVolumeId: v.GetVolumeId()})
	if err != nil || len(list.GetEntries()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	expanded, err := d.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{
		VolumeId: v.GetVolumeId(), CapacityRange: &csi.CapacityRange{RequiredBytes: 60},
	})
	if err != nil || expanded.GetCapacityBytes() != 60 {
		t.Fatalf("expand: %v %v", expanded, err)
	}
	if _, err := d.DeleteSnapshot(ctx, &csi.DeleteSnapshotRequest{SnapshotId: snapID}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{v.GetVolumeId(), restored.GetVolumeId()} {
		if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
			t.Fatal(err)
		}
	}
	capacity, _ = d.GetCapacity(ctx, &csi.GetCapacityRequest{})
	if capacity.GetAvailableCapacity() != 100 {
		t.Fatalf("available after deletes %d, want 100", capacity.GetAvailableCapacity())
	}
}

func TestBlockVolumesAreRefused(t *testing.T) {
	d, _ := newDriver("test.csi", "node-1", t.TempDir(), 100)
	_, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{
		Name: "b",
		VolumeCapabilities: []*csi.VolumeCapability{{
			AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
		}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
}

func TestMountinfoEscapes(t *testing.T) {
	if got := unescapeMountPath(`/a\040b`); got != "/a b" {
		t.Fatalf("got %q", got)
	}
}

func TestNodeInfoReportsTopologyAndVolumeLimit(t *testing.T) {
	d, err := newDriver("test.csi", "node-1", t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	d.maxVolumes = 7
	info, err := d.NodeGetInfo(context.Background(), &csi.NodeGetInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetMaxVolumesPerNode() != 7 || info.GetNodeId() != "node-1" {
		t.Fatalf("node info %v: want node-1 with a limit of 7", info)
	}
	if got := info.GetAccessibleTopology().GetSegments()[topologyKey]; got != "node-1" {
		t.Fatalf("topology segment %q, want node-1", got)
	}
}

func TestMountOptionsBecomeFlagsAndUnknownOnesAreRefused(t *testing.T) {
	flags, err := mountFlags([]string{"nosuid", "noexec"})
	if err != nil || flags != syscall.MS_NOSUID|syscall.MS_NOEXEC {
		t.Fatalf("flags %x, error %v", flags, err)
	}
	_, err = mountFlags([]string{"nosuid", "sync-ish"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `"sync-ish"`) || !strings.Contains(err.Error(), "noexec") {
		t.Fatalf("unknown option: %v", err)
	}
}
