package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// topologyKey is the one topology segment: volumes live on the node that holds the state dir.
const topologyKey = "topology.hostpath.csi/node"

// defaultCapacity is a volume's size when the request names none.
const defaultCapacity = 1 << 30

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: version}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	service := func(t csi.PluginCapability_Service_Type) *csi.PluginCapability {
		return &csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: t}}}
	}
	expansion := func(t csi.PluginCapability_VolumeExpansion_Type) *csi.PluginCapability {
		return &csi.PluginCapability{Type: &csi.PluginCapability_VolumeExpansion_{VolumeExpansion: &csi.PluginCapability_VolumeExpansion{Type: t}}}
	}
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{
		service(csi.PluginCapability_Service_CONTROLLER_SERVICE),
		service(csi.PluginCapability_Service_VOLUME_ACCESSIBILITY_CONSTRAINTS),
		expansion(csi.PluginCapability_VolumeExpansion_ONLINE),
		expansion(csi.PluginCapability_VolumeExpansion_OFFLINE),
	}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(true)}, nil
}

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
		csi.ControllerServiceCapability_RPC_GET_CAPACITY,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{
			Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}},
		})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// checkCapabilities accepts mounted and block volumes in any access mode (every consumer is on
// this node) and reports whether the capabilities ask for a block volume; asking for both
// access types at once is an error.
func checkCapabilities(caps []*csi.VolumeCapability) (block bool, err error) {
	if len(caps) == 0 {
		return false, status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	for i, c := range caps {
		isBlock := c.GetBlock() != nil
		if !isBlock && c.GetMount() == nil {
			return false, status.Error(codes.InvalidArgument, "an access type (mount or block) is required")
		}
		if i > 0 && isBlock != block {
			return false, status.Error(codes.InvalidArgument, "the capabilities ask for both a block and a mounted volume; a volume is one or the other")
		}
		block = isBlock
	}
	return block, nil
}

// volumeMode names a volume's kind in messages.
func volumeMode(block bool) string {
	if block {
		return "block"
	}
	return "filesystem"
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	block, err := checkCapabilities(req.GetVolumeCapabilities())
	if err != nil {
		return nil, err
	}
	size := req.GetCapacityRange().GetRequiredBytes()
	limit := req.GetCapacityRange().GetLimitBytes()
	if size == 0 {
		size = defaultCapacity
		if limit > 0 && limit < size {
			size = limit
		}
	}
	if limit > 0 && size > limit {
		return nil, status.Errorf(codes.OutOfRange, "required %d bytes exceed the limit of %d", size, limit)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.load()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if v := s.volumeByName(req.GetName()); v != nil {
		if v.Block != block {
			return nil, status.Errorf(codes.AlreadyExists, "volume %s exists as a %s volume", req.GetName(), volumeMode(v.Block))
		}
		if v.Capacity < size || (limit > 0 && v.Capacity > limit) {
			return nil, status.Errorf(codes.AlreadyExists, "volume %s exists with %d bytes", req.GetName(), v.Capacity)
		}
		return d.createResponse(v, req.GetVolumeContentSource()), nil
	}
	if free := d.capacity - s.used(); size > free {
		return nil, status.Errorf(codes.ResourceExhausted, "%d bytes requested, %d free", size, free)
	}

	v := &volume{ID: idFor("vol", req.GetName()), Name: req.GetName(), Capacity: size, Block: block}
	path := d.volumePath(v.ID)
	_ = os.RemoveAll(path) // a leftover of a create that failed half-way
	if err := os.MkdirAll(path, 0o777); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	_ = os.Chmod(path, 0o777) // any pod user may write, as with emptyDir
	if err := d.fill(s, v, req.GetVolumeContentSource(), path); err != nil {
		_ = os.RemoveAll(path)
		return nil, err
	}
	if v.Block {
		if err := d.sizeImage(v); err != nil {
			_ = os.RemoveAll(path)
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	s.Volumes[v.ID] = v
	if err := d.save(s); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return d.createResponse(v, req.GetVolumeContentSource()), nil
}

// fill restores a snapshot into, or copies a volume into, a new volume's directory. Both must
// be of the new volume's kind (block or filesystem).
func (d *driver) fill(s *state, v *volume, source *csi.VolumeContentSource, path string) error {
	switch {
	case source.GetSnapshot() != nil:
		id := source.GetSnapshot().GetSnapshotId()
		snap, ok := s.Snapshots[id]
		if !ok {
			return status.Errorf(codes.NotFound, "snapshot %s does not exist", id)
		}
		if snap.Block != v.Block {
			return status.Errorf(codes.InvalidArgument, "snapshot %s is of a %s volume and cannot be restored into a %s volume", id, volumeMode(snap.Block), volumeMode(v.Block))
		}
		if snap.Size > v.Capacity {
			return status.Errorf(codes.OutOfRange, "snapshot %s needs %d bytes, the volume has %d", id, snap.Size, v.Capacity)
		}
		f, err := os.Open(d.snapshotPath(id))
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		defer f.Close()
		if err := extract(f, path); err != nil {
			return status.Errorf(codes.Internal, "restore snapshot %s: %v", id, err)
		}
		v.Source = "snapshot:" + id
	case source.GetVolume() != nil:
		id := source.GetVolume().GetVolumeId()
		src, ok := s.Volumes[id]
		if !ok {
			return status.Errorf(codes.NotFound, "volume %s does not exist", id)
		}
		if src.Block != v.Block {
			return status.Errorf(codes.InvalidArgument, "volume %s is a %s volume and cannot be cloned into a %s volume", id, volumeMode(src.Block), volumeMode(v.Block))
		}
		if src.Capacity > v.Capacity {
			return status.Errorf(codes.OutOfRange, "volume %s has %d bytes, the clone %d", id, src.Capacity, v.Capacity)
		}
		if err := copyTree(d.volumePath(id), path); err != nil {
			return status.Errorf(codes.Internal, "clone volume %s: %v", id, err)
		}
		v.Source = "volume:" + id
	}
	return nil
}

// sizeImage makes a block volume's image v.Capacity bytes long: creates it sparse, or grows
// one restored, cloned or expanded. It never shrinks an image.
func (d *driver) sizeImage(v *volume) error {
	f, err := os.OpenFile(d.imagePath(v.ID), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err == nil && info.Size() < v.Capacity {
		err = f.Truncate(v.Capacity)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (d *driver) createResponse(v *volume, source *csi.VolumeContentSource) *csi.CreateVolumeResponse {
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId:           v.ID,
		CapacityBytes:      v.Capacity,
		ContentSource:      source,
		AccessibleTopology: []*csi.Topology{{Segments: map[string]string{topologyKey: d.nodeID}}},
	}}
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.load()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if targets, _ := os.ReadDir(d.publishedPath(req.GetVolumeId())); len(targets) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s is still published at %d target(s) on the node", req.GetVolumeId(), len(targets))
	}
	if err := os.RemoveAll(d.volumePath(req.GetVolumeId())); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	delete(s.Volumes, req.GetVolumeId())
	if err := d.save(s); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	d.mu.Lock()
	s, err := d.load()
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	v, ok := s.Volumes[req.GetVolumeId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	block, err := checkCapabilities(req.GetVolumeCapabilities())
	if err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	if block != v.Block {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: fmt.Sprintf("volume %s is a %s volume", v.ID, volumeMode(v.Block))}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

func (d *driver) GetCapacity(context.Context, *csi.GetCapacityRequest) (*csi.GetCapacityResponse, error) {
	d.mu.Lock()
	s, err := d.load()
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	free := max(d.capacity-s.used(), 0)
	return &csi.GetCapacityResponse{AvailableCapacity: free}, nil
}

func (d *driver) ControllerExpandVolume(_ context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	size := req.GetCapacityRange().GetRequiredBytes()
	limit := req.GetCapacityRange().GetLimitBytes()
	if req.GetVolumeId() == "" || size == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume id and required bytes are required")
	}
	if limit > 0 && size > limit {
		return nil, status.Errorf(codes.OutOfRange, "required %d bytes exceed the limit of %d", size, limit)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.load()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	v, ok := s.Volumes[req.GetVolumeId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetVolumeId())
	}
	if size > v.Capacity {
		if free := d.capacity - s.used(); size-v.Capacity > free {
			return nil, status.Errorf(codes.ResourceExhausted, "%d more bytes requested, %d free", size-v.Capacity, free)
		}
		v.Capacity = size
		if v.Block {
			if err := d.sizeImage(v); err != nil {
				return nil, status.Errorf(codes.Internal, "grow the image of volume %s: %v", v.ID, err)
			}
		}
		if err := d.save(s); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	// A directory has no file system to grow. A block volume's loop devices keep their size
	// until the node tells them the image grew (NodeExpandVolume).
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: v.Capacity, NodeExpansionRequired: v.Block}, nil
}

func (d *driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" || req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "name and source volume id are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.load()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if snap := s.snapshotByName(req.GetName()); snap != nil {
		if snap.SourceVolume != req.GetSourceVolumeId() {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %s exists for volume %s", req.GetName(), snap.SourceVolume)
		}
		return &csi.CreateSnapshotResponse{Snapshot: snapshotInfo(snap)}, nil
	}
	v, ok := s.Volumes[req.GetSourceVolumeId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", req.GetSourceVolumeId())
	}
	snap := &snapshot{
		ID:           idFor("snap", req.GetName()),
		Name:         req.GetName(),
		SourceVolume: v.ID,
		Size:         v.Capacity,
		Block:        v.Block,
		Created:      time.Now().UTC(),
	}
	if err := d.writeArchive(v.ID, d.snapshotPath(snap.ID)); err != nil {
		return nil, status.Errorf(codes.Internal, "archive volume %s: %v", v.ID, err)
	}
	s.Snapshots[snap.ID] = snap
	if err := d.save(s); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.CreateSnapshotResponse{Snapshot: snapshotInfo(snap)}, nil
}

func (d *driver) writeArchive(volumeID, path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := &sparseWriter{f: f} // a block volume's image is mostly holes; so is its archive
	err = archive(d.volumePath(volumeID), w)
	if err == nil {
		err = f.Truncate(w.pos)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func snapshotInfo(snap *snapshot) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:     snap.ID,
		SourceVolumeId: snap.SourceVolume,
		SizeBytes:      snap.Size,
		CreationTime:   timestamppb.New(snap.Created),
		ReadyToUse:     true,
	}
}

func (d *driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	if req.GetSnapshotId() == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.load()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.Remove(d.snapshotPath(req.GetSnapshotId())); err != nil && !os.IsNotExist(err) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	delete(s.Snapshots, req.GetSnapshotId())
	if err := d.save(s); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

func (d *driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	s, err := d.load()
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	var all []*snapshot
	for _, snap := range s.Snapshots {
		if (req.GetSnapshotId() == "" || snap.ID == req.GetSnapshotId()) &&
			(req.GetSourceVolumeId() == "" || snap.SourceVolume == req.GetSourceVolumeId()) {
			all = append(all, snap)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	start := 0
	if token := req.GetStartingToken(); token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(all) {
			return nil, status.Errorf(codes.Aborted, "invalid starting token %q", token)
		}
		start = n
	}
	end := len(all)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListSnapshotsResponse{}
	for _, snap := range all[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: snapshotInfo(snap)})
	}
	if end < len(all) {
		resp.NextToken = fmt.Sprint(end)
	}
	return resp, nil
}
