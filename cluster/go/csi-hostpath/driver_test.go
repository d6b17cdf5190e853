package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
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

var blockCap = []*csi.VolumeCapability{{
	AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
	AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
}}

func createBlock(t *testing.T, d *driver, name string, size int64, source *csi.VolumeContentSource) (*csi.Volume, error) {
	t.Helper()
	resp, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{
		Name:                name,
		CapacityRange:       &csi.CapacityRange{RequiredBytes: size},
		VolumeCapabilities:  blockCap,
		VolumeContentSource: source,
	})
	return resp.GetVolume(), err
}

// imageOf checks that a block volume's image has the size wanted and is still mostly holes,
// and returns its content.
func imageOf(t *testing.T, d *driver, id string, size int64) []byte {
	t.Helper()
	info, err := os.Stat(d.imagePath(id))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != size {
		t.Fatalf("volume %s: image of %d bytes, want %d", id, info.Size(), size)
	}
	if allocated := info.Sys().(*syscall.Stat_t).Blocks * 512; allocated > 64<<10 {
		t.Errorf("volume %s: %d bytes allocated for a sparse image of %d", id, allocated, size)
	}
	data, err := os.ReadFile(d.imagePath(id))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fromSnapshot(id string) *csi.VolumeContentSource {
	return &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: id}}}
}

func fromVolume(id string) *csi.VolumeContentSource {
	return &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: id}}}
}

func TestBlockVolumesAreSparseImagesThatExpandSnapshotAndClone(t *testing.T) {
	ctx := context.Background()
	d, err := newDriver("test.csi", "node-1", t.TempDir(), 100<<20)
	if err != nil {
		t.Fatal(err)
	}
	v, err := createBlock(t, d, "pvc-block", 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	imageOf(t, d, v.GetVolumeId(), 1<<20)
	f, err := os.OpenFile(d.imagePath(v.GetVolumeId()), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("hello"), 8192); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if _, err := create(t, d, "pvc-block", 1<<20, nil); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("the name of a block volume as a filesystem volume: got %v, want AlreadyExists", err)
	}
	mixed := append(append([]*csi.VolumeCapability{}, blockCap...), mountCap...)
	if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "mixed", VolumeCapabilities: mixed}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("block and mount at once: got %v, want InvalidArgument", err)
	}
	valid, err := d.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{VolumeId: v.GetVolumeId(), VolumeCapabilities: mountCap})
	if err != nil || valid.GetConfirmed() != nil {
		t.Fatalf("a block volume validated as a mounted one: %v %v", valid, err)
	}
	valid, err = d.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{VolumeId: v.GetVolumeId(), VolumeCapabilities: blockCap})
	if err != nil || valid.GetConfirmed() == nil {
		t.Fatalf("a block volume not validated as one: %v %v", valid, err)
	}

	expanded, err := d.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{
		VolumeId: v.GetVolumeId(), CapacityRange: &csi.CapacityRange{RequiredBytes: 2 << 20},
	})
	if err != nil || expanded.GetCapacityBytes() != 2<<20 || !expanded.GetNodeExpansionRequired() {
		t.Fatalf("expand: %v %v (want 2 MiB and node expansion)", expanded, err)
	}
	if data := imageOf(t, d, v.GetVolumeId(), 2<<20); string(data[8192:8197]) != "hello" {
		t.Fatalf("the expanded image lost its data")
	}

	snap, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap-block", SourceVolumeId: v.GetVolumeId()})
	if err != nil {
		t.Fatal(err)
	}
	snapID := snap.GetSnapshot().GetSnapshotId()
	if info, err := os.Stat(d.snapshotPath(snapID)); err != nil || info.Sys().(*syscall.Stat_t).Blocks*512 > 64<<10 {
		t.Errorf("the snapshot archive should be sparse too: %v %v", info, err)
	}
	restored, err := createBlock(t, d, "pvc-restored", 3<<20, fromSnapshot(snapID))
	if err != nil {
		t.Fatal(err)
	}
	if data := imageOf(t, d, restored.GetVolumeId(), 3<<20); string(data[8192:8197]) != "hello" {
		t.Fatalf("the restored image lost its data")
	}
	clone, err := createBlock(t, d, "pvc-clone", 2<<20, fromVolume(v.GetVolumeId()))
	if err != nil {
		t.Fatal(err)
	}
	if data := imageOf(t, d, clone.GetVolumeId(), 2<<20); string(data[8192:8197]) != "hello" {
		t.Fatalf("the clone lost its data")
	}

	if _, err := create(t, d, "pvc-fs-from-block", 2<<20, fromSnapshot(snapID)); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "block volume") {
		t.Fatalf("a block snapshot restored as a filesystem volume: got %v, want InvalidArgument", err)
	}
	if _, err := create(t, d, "pvc-fs-clone", 2<<20, fromVolume(v.GetVolumeId())); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a block volume cloned as a filesystem volume: got %v, want InvalidArgument", err)
	}
	fs, err := create(t, d, "pvc-fs", 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	fsSnap, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snap-fs", SourceVolumeId: fs.GetVolumeId()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createBlock(t, d, "pvc-block-from-fs", 2<<20, fromSnapshot(fsSnap.GetSnapshot().GetSnapshotId())); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a filesystem snapshot restored as a block volume: got %v, want InvalidArgument", err)
	}
	if _, err := createBlock(t, d, "pvc-block-clone-fs", 2<<20, fromVolume(fs.GetVolumeId())); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a filesystem volume cloned as a block volume: got %v, want InvalidArgument", err)
	}

	stats, err := d.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: v.GetVolumeId(), VolumePath: d.imagePath(v.GetVolumeId())})
	if err != nil || len(stats.GetUsage()) != 1 || stats.GetUsage()[0].GetTotal() != 2<<20 || stats.GetUsage()[0].GetUnit() != csi.VolumeUsage_BYTES {
		t.Fatalf("block volume stats: %v %v (want only the total, 2 MiB)", stats, err)
	}
	_, err = d.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
		VolumeId: v.GetVolumeId(), TargetPath: filepath.Join(t.TempDir(), "t"), VolumeCapability: mountCap[0],
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a block volume published as a mounted one: got %v, want InvalidArgument", err)
	}
}

// needLoop skips a test that attaches loop devices where it cannot.
func needLoop(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no loop devices: %v", err)
	}
}

func TestLoopDeviceAttachResizeAndDetach(t *testing.T) {
	needLoop(t)
	image := filepath.Join(t.TempDir(), blockImage)
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 1<<20); err != nil {
		t.Fatal(err)
	}
	device, err := attachLoop(image, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = detachLoop(device) })
	loops, err := loopsBackedBy(image)
	if err != nil || len(loops) != 1 || "/dev/"+loops[0].name != device || loops[0].readOnly {
		t.Fatalf("loop devices of %s: %v %v, want %s", image, loops, err, device)
	}
	dev, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dev.WriteAt([]byte("through the device"), 4096)
	if err == nil {
		err = dev.Sync()
	}
	dev.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(image)
	if string(data[4096:4114]) != "through the device" {
		t.Fatalf("the image does not hold what was written to %s", device)
	}

	if err := os.Truncate(image, 2<<20); err != nil {
		t.Fatal(err)
	}
	if err := setLoopCapacity(device); err != nil {
		t.Fatal(err)
	}
	size, _ := os.ReadFile(filepath.Join("/sys/block", filepath.Base(device), "size"))
	if strings.TrimSpace(string(size)) != "4096" {
		t.Fatalf("%s has %s sectors after the resize, want 4096", device, size)
	}

	if err := detachUnused(image); err != nil {
		t.Fatal(err)
	}
	if loops, _ := loopsBackedBy(image); len(loops) != 0 {
		t.Fatalf("still attached: %v", loops)
	}
}

// TestLoopDevicesAreFoundAfterTheirPathHasGone attaches the image through a mount that then
// goes away, as the node plugin's container does when it restarts: the device's backing_file
// no longer reads as the image's path, and the device is still found (and detached).
func TestLoopDevicesAreFoundAfterTheirPathHasGone(t *testing.T) {
	needLoop(t)
	dir, other := t.TempDir(), t.TempDir()
	image := filepath.Join(dir, blockImage)
	if err := os.WriteFile(image, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(dir, other, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	device, err := attachLoop(filepath.Join(other, blockImage), false)
	_ = syscall.Unmount(other, syscall.MNT_DETACH)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = detachLoop(device) })
	backing, _ := os.ReadFile(filepath.Join("/sys/block", filepath.Base(device), "loop", "backing_file"))
	t.Logf("%s: backing_file %q", device, strings.TrimSpace(string(backing)))
	if err := detachUnused(image); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/sys/block", filepath.Base(device), "loop")); !os.IsNotExist(err) {
		t.Fatalf("%s is still attached (%v)", device, err)
	}
}

// TestNodePublishBlock publishes a block volume as kubelet would (on this host, without
// kubelet): a loop device bind-mounted on a file, shared by the writable publications, one of
// its own for the read-only one, each gone again after its last unpublish.
func TestNodePublishBlock(t *testing.T) {
	needLoop(t)
	ctx := context.Background()
	d, err := newDriver("test.csi", "node-1", t.TempDir(), 100<<20)
	if err != nil {
		t.Fatal(err)
	}
	v, err := createBlock(t, d, "pvc-block", 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, image := v.GetVolumeId(), d.imagePath(v.GetVolumeId())
	dir := t.TempDir()
	t.Cleanup(func() {
		for _, name := range []string{"rw", "rw2", "ro"} {
			_ = syscall.Unmount(filepath.Join(dir, name), syscall.MNT_DETACH)
		}
		_ = detachUnused(image)
	})
	publish := func(name string, readonly bool) string {
		t.Helper()
		target := filepath.Join(dir, name)
		req := &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target, VolumeCapability: blockCap[0], Readonly: readonly}
		for range 2 { // the second call finds it done
			if _, err := d.NodePublishVolume(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		var st syscall.Stat_t
		if err := syscall.Stat(target, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFBLK || unix.Major(st.Rdev) != 7 {
			t.Fatalf("%s is not a loop device: %+v %v", target, st, err)
		}
		return target
	}
	rw, rw2, ro := publish("rw", false), publish("rw2", false), publish("ro", true)
	loops, _ := loopsBackedBy(image)
	if len(loops) != 2 {
		t.Fatalf("two writable publications and a read-only one: loop devices %v, want two", loops)
	}
	f, err := os.OpenFile(rw, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("block data"), 0)
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(ro, os.O_WRONLY, 0); err == nil {
		_, err = f.WriteAt([]byte("nope"), 0)
		f.Close()
		if err == nil {
			t.Fatal("wrote to a read-only publication")
		}
	}
	if data, _ := os.ReadFile(image); string(data[:10]) != "block data" {
		t.Fatalf("the image holds %q", data[:10])
	}

	// rw2 still uses the device rw did; then one device is left for ro, then none.
	for i, target := range []string{rw, ro, rw2} {
		req := &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}
		for range 2 {
			if _, err := d.NodeUnpublishVolume(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("%s is left: %v", target, err)
		}
		if loops, _ := loopsBackedBy(image); len(loops) != []int{2, 1, 0}[i] {
			t.Fatalf("after unpublishing %s, loop devices %v", target, loops)
		}
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

func TestAVolumeStillPublishedIsNotDeleted(t *testing.T) {
	ctx := context.Background()
	d, err := newDriver("test.csi", "node-1", t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	v, err := create(t, d, "pvc-published", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.markPublished(v.GetVolumeId(), "/pods/a/mount", true); err != nil {
		t.Fatal(err)
	}
	_, err = d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.GetVolumeId()})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "still published at 1 target") {
		t.Fatalf("delete while published: %v", err)
	}
	if err := d.markPublished(v.GetVolumeId(), "/pods/a/mount", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: v.GetVolumeId()}); err != nil {
		t.Fatalf("delete once unpublished: %v", err)
	}
}
