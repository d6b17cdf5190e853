package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ephemeralKey marks a CSI inline (ephemeral) volume in the volume context kubelet sends.
const ephemeralKey = "csi.storage.k8s.io/ephemeral"

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{
		NodeId:             d.nodeID,
		MaxVolumesPerNode:  d.maxVolumes,
		AccessibleTopology: &csi.Topology{Segments: map[string]string{topologyKey: d.nodeID}},
	}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	var caps []*csi.NodeServiceCapability
	for _, t := range []csi.NodeServiceCapability_RPC_Type{
		csi.NodeServiceCapability_RPC_EXPAND_VOLUME,
		csi.NodeServiceCapability_RPC_GET_VOLUME_STATS,
	} {
		caps = append(caps, &csi.NodeServiceCapability{
			Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: t}},
		})
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

// NodePublishVolume bind-mounts the volume's directory (for an inline volume, a new one) onto
// the target path kubelet chose, read-only when asked. A block volume goes to publishBlock.
func (d *driver) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	resp, err := d.publish(ctx, req)
	if err == nil && req.GetVolumeContext()[ephemeralKey] != "true" {
		if err := d.markPublished(req.GetVolumeId(), req.GetTargetPath(), true); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return resp, err
}

// markPublished records (or forgets) that volume id is published at target: a file
// published/<id>/<hash of target>, which DeleteVolume checks so that a volume is not deleted
// under a pod still using it (kubelet unmaps a block volume only after the pod is gone).
func (d *driver) markPublished(id, target string, published bool) error {
	sum := sha256.Sum256([]byte(target))
	dir := d.publishedPath(id)
	marker := filepath.Join(dir, hex.EncodeToString(sum[:8]))
	if !published {
		if err := os.Remove(marker); err != nil && !os.IsNotExist(err) {
			return err
		}
		_ = os.Remove(dir) // only when empty
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(target+"\n"), 0o644)
}

func (d *driver) publish(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if id == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	block, err := checkCapabilities([]*csi.VolumeCapability{req.GetVolumeCapability()})
	if err != nil {
		return nil, err
	}
	ephemeral := req.GetVolumeContext()[ephemeralKey] == "true"
	if block && ephemeral {
		return nil, status.Error(codes.InvalidArgument, "an inline (ephemeral) volume cannot be a block volume")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !ephemeral {
		s, err := d.load()
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if v, ok := s.Volumes[id]; ok && v.Block != block {
			return nil, status.Errorf(codes.InvalidArgument, "volume %s is a %s volume, not a %s volume", id, volumeMode(v.Block), volumeMode(block))
		}
	}
	if block {
		return d.publishBlock(id, target, req.GetReadonly())
	}
	source := d.volumePath(id)
	if ephemeral {
		source = d.ephemeralPath(id)
		if err := os.MkdirAll(source, 0o777); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		_ = os.Chmod(source, 0o777)
	} else if _, err := os.Stat(source); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", id)
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	options, err := mountFlags(req.GetVolumeCapability().GetMount().GetMountFlags())
	if err != nil {
		return nil, err
	}
	if req.GetReadonly() {
		options |= syscall.MS_RDONLY
	}
	if err := bindWithFlags(source, target, options); err != nil {
		return nil, status.Errorf(codes.Internal, "bind mount %s on %s (options %v): %v", source, target, req.GetVolumeCapability().GetMount().GetMountFlags(), err)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// publishBlock attaches a block volume's image to a loop device (read-only when asked: a
// read-only bind mount of a device node still lets a writer open the device) and bind-mounts
// the device on target, a file the plugin creates (CSI spec). Publications of one volume with
// the same read-only setting share the device, and so its page cache, as pods sharing a disk
// would: with a device each, a pod would not see what another wrote to a block it had read.
func (d *driver) publishBlock(id, target string, readonly bool) (*csi.NodePublishVolumeResponse, error) {
	image := d.imagePath(id)
	if _, err := os.Stat(image); err != nil {
		return nil, status.Errorf(codes.NotFound, "block volume %s: %v", id, err)
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create the target file: %v", err)
	}
	f.Close()
	loops, err := loopsBackedBy(image)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	device := ""
	for _, loop := range loops {
		if loop.readOnly == readonly && !loop.detaching {
			device = "/dev/" + loop.name
			break
		}
	}
	attached := device == ""
	if attached {
		if device, err = attachLoop(image, readonly); err != nil {
			return nil, status.Errorf(codes.Internal, "attach %s to a loop device: %v", image, err)
		}
	}
	var flags uintptr
	if readonly {
		flags = syscall.MS_RDONLY
	}
	if err := bindWithFlags(device, target, flags); err != nil {
		if attached {
			_ = detachLoop(device)
		}
		return nil, status.Errorf(codes.Internal, "bind mount %s on %s: %v", device, target, err)
	}
	log.Printf("volume %s: %s (%s, read-only %v) on %s", id, device, image, readonly, target)
	return &csi.NodePublishVolumeResponse{}, nil
}

// attachLoop attaches the file image to a free loop device, read-only when asked, and returns
// the device's path. The device stays attached when the descriptors close, until detachLoop.
// The node plugin needs the host's /dev to see a device created after it started.
func attachLoop(image string, readonly bool) (string, error) {
	mode := os.O_RDWR
	if readonly {
		mode = os.O_RDONLY
	}
	file, err := os.OpenFile(image, mode, 0)
	if err != nil {
		return "", err
	}
	defer file.Close()
	control, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer control.Close()
	// Someone else (kubelet attaches a loop device to every block volume it maps) may take
	// the free device between the two calls: then try the next free one.
	for range 10 {
		n, err := unix.IoctlRetInt(int(control.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		device := fmt.Sprintf("/dev/loop%d", n)
		loop, err := os.OpenFile(device, mode, 0)
		if err != nil {
			return "", fmt.Errorf("%w (is the host's /dev mounted in the container?)", err)
		}
		err = unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_FD, int(file.Fd()))
		loop.Close()
		if err == nil {
			return device, nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return "", fmt.Errorf("LOOP_SET_FD %s: %w", device, err)
		}
	}
	return "", errors.New("every free loop device was taken before it could be attached")
}

// detachLoop detaches a loop device from its file; while something else still has the device
// open, the kernel detaches it when the last one closes it.
func detachLoop(device string) error {
	loop, err := os.OpenFile(device, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer loop.Close()
	return unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0)
}

// loopDevice is a loop device (loopN) attached to a volume's image.
type loopDevice struct {
	name     string
	readOnly bool
	// detaching: detached while open, it goes when the last opener closes it.
	detaching bool
}

// loopsBackedBy lists the loop devices attached to the file image. It compares device and
// inode numbers (LOOP_GET_STATUS64), not paths: /sys/block/loopN/loop/backing_file has the
// path in the mount namespace that attached the file, and once that container has gone (a
// restarted node plugin) it reads differently.
func loopsBackedBy(image string) ([]loopDevice, error) {
	var file unix.Stat_t
	if err := unix.Stat(image, &file); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, err
	}
	bound, err := filepath.Glob("/sys/block/loop*/loop") // only attached devices have it
	if err != nil {
		return nil, err
	}
	var loops []loopDevice
	for _, dir := range bound {
		name := filepath.Base(filepath.Dir(dir))
		loop, err := os.OpenFile("/dev/"+name, os.O_RDONLY, 0)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := unix.IoctlLoopGetStatus64(int(loop.Fd()))
		loop.Close()
		if err == nil && info.Device == file.Dev && info.Inode == file.Ino {
			loops = append(loops, loopDevice{
				name:      name,
				readOnly:  info.Flags&unix.LO_FLAGS_READ_ONLY != 0,
				detaching: info.Flags&unix.LO_FLAGS_AUTOCLEAR != 0,
			})
		}
	}
	return loops, nil
}

// detachUnused detaches the loop devices attached to image that no mount uses: that of the
// publication just unmounted (unless another publication shares it), and any an interrupted
// unpublication left behind. A bind mount of a device node shows in mountinfo with the
// devtmpfs' major:minor and the node's path as its root ("/loop3"), so the root tells.
func detachUnused(image string) error {
	loops, err := loopsBackedBy(image)
	if err != nil || len(loops) == 0 {
		return err
	}
	mounts, err := readMountinfo()
	if err != nil {
		return err
	}
	for _, loop := range loops {
		if slices.ContainsFunc(mounts, func(m mountEntry) bool { return m.root == "/"+loop.name }) {
			continue
		}
		if err := detachLoop("/dev/" + loop.name); err != nil {
			return fmt.Errorf("detach /dev/%s: %w", loop.name, err)
		}
		log.Printf("detached /dev/%s from %s", loop.name, image)
	}
	return nil
}

// bindWithFlags bind-mounts source on target with mount flags. A bind mount takes flags only
// through a remount, and a remount does not propagate to the node's mount namespace, so the
// flags are set on a private staging mount first; the bind mount of that mount onto target
// copies them, and so does its propagated twin kubelet sees. The staging mount point is a
// directory, or a file when source is one (a block device).
func bindWithFlags(source, target string, flags uintptr) error {
	if flags == 0 {
		return syscall.Mount(source, target, "", syscall.MS_BIND, "")
	}
	info, err := os.Stat(source)
	if err != nil {
		return err
	}
	var stage string
	if info.IsDir() {
		stage, err = os.MkdirTemp("", "stage-")
	} else {
		var f *os.File
		if f, err = os.CreateTemp("", "stage-"); err == nil {
			stage = f.Name()
			f.Close()
		}
	}
	if err != nil {
		return err
	}
	defer os.Remove(stage)
	if err := syscall.Mount(source, stage, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	defer syscall.Unmount(stage, syscall.MNT_DETACH)
	if err := syscall.Mount("", stage, "", syscall.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := syscall.Mount("", stage, "", syscall.MS_BIND|syscall.MS_REMOUNT|flags, ""); err != nil {
		return err
	}
	return syscall.Mount(stage, target, "", syscall.MS_BIND, "")
}

// supportedMountFlags are the mount options (a storage class's mountOptions) a bind mount can
// take.
var supportedMountFlags = map[string]uintptr{
	"ro":         syscall.MS_RDONLY,
	"nosuid":     syscall.MS_NOSUID,
	"nodev":      syscall.MS_NODEV,
	"noexec":     syscall.MS_NOEXEC,
	"noatime":    syscall.MS_NOATIME,
	"nodiratime": syscall.MS_NODIRATIME,
}

// mountFlags turns mount options into flags; an unknown option is an InvalidArgument error
// that lists the supported ones.
func mountFlags(options []string) (uintptr, error) {
	var flags uintptr
	for _, o := range options {
		f, ok := supportedMountFlags[o]
		if !ok {
			known := make([]string, 0, len(supportedMountFlags))
			for k := range supportedMountFlags {
				known = append(known, k)
			}
			sort.Strings(known)
			return 0, status.Errorf(codes.InvalidArgument, "mount option %q is not supported (supported: %s)", o, strings.Join(known, ", "))
		}
		flags |= f
	}
	return flags, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if id == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		mounted, err := isMountPoint(target)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if !mounted {
			break
		}
		if err := syscall.Unmount(target, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmount %s: %v", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.RemoveAll(d.ephemeralPath(id)); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	// A block volume: its loop device goes once no mount of the device is left.
	if err := detachUnused(d.imagePath(id)); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := d.markPublished(id, target, false); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// NodeGetVolumeStats reports the volume's capacity from the state file and what its files use;
// for a block volume, only its size (what it holds is not known outside the pod).
func (d *driver) NodeGetVolumeStats(_ context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	id, path := req.GetVolumeId(), req.GetVolumePath()
	if id == "" || path == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and volume path are required")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume path %s: %v", path, err)
	}
	d.mu.Lock()
	s, err := d.load()
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if v, ok := s.Volumes[id]; ok && v.Block {
		return &csi.NodeGetVolumeStatsResponse{Usage: []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: v.Capacity}}}, nil
	}
	used, inodes, err := diskUsage(path)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	total := int64(fs.Blocks) * fs.Bsize
	if v, ok := s.Volumes[id]; ok {
		total = v.Capacity
	}
	return &csi.NodeGetVolumeStatsResponse{Usage: []*csi.VolumeUsage{
		{Unit: csi.VolumeUsage_BYTES, Total: total, Used: used, Available: max(total-used, 0)},
		{Unit: csi.VolumeUsage_INODES, Total: int64(fs.Files), Used: inodes, Available: int64(fs.Ffree)},
	}}, nil
}

// NodeExpandVolume has no file system to grow: the controller already recorded the new size,
// and grew a block volume's image. A loop device attached to that image learns its new size
// here (LOOP_SET_CAPACITY).
func (d *driver) NodeExpandVolume(_ context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	if req.GetVolumeId() == "" || req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and volume path are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	loops, err := loopsBackedBy(d.imagePath(req.GetVolumeId()))
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	for _, loop := range loops {
		if err := setLoopCapacity("/dev/" + loop.name); err != nil {
			return nil, status.Errorf(codes.Internal, "resize /dev/%s: %v", loop.name, err)
		}
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: req.GetCapacityRange().GetRequiredBytes()}, nil
}

// setLoopCapacity makes a loop device reread its file's size.
func setLoopCapacity(device string) error {
	loop, err := os.OpenFile(device, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer loop.Close()
	return unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_CAPACITY, 0)
}

// mountEntry is one line of /proc/self/mountinfo: the path inside its file system that is
// mounted, and where.
type mountEntry struct {
	root, point string
}

func readMountinfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []mountEntry
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 4 {
			mounts = append(mounts, mountEntry{root: unescapeMountPath(fields[3]), point: unescapeMountPath(fields[4])})
		}
	}
	return mounts, scanner.Err()
}

// isMountPoint reports whether path is the mount point of some mount in this mount namespace.
func isMountPoint(path string) (bool, error) {
	path = filepath.Clean(path)
	mounts, err := readMountinfo()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(mounts, func(m mountEntry) bool { return m.point == path }), nil
}

// unescapeMountPath undoes mountinfo's octal escapes (`\040` for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
