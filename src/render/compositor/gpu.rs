//! GPU compositor (wgpu): one render pass per patch layer does the affine warp and the masked
//! blend of a lip patch into the frame; the result is read back for export, and the editor can
//! show the same texture. [`super::Compositor`] picks it or the CPU reference ([`super::cpu`]).

use super::{PatchLayer, footprint};
use crate::analysis::mouth_patch::dims_of;
use crate::render::pixels::Rect;
use std::sync::{Arc, OnceLock};
use wgpu::util::DeviceExt;

/// Errors of the GPU path (the caller falls back to the CPU).
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// `REDUB_FORCE_CPU=1` is set.
    #[error("GPU disabled by REDUB_FORCE_CPU")]
    Disabled,
    /// No adapter or device.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// A GPU operation failed.
    #[error("GPU: {0}")]
    Failed(String),
    /// Opening the process's compositor failed earlier (the first error, shared).
    #[error(transparent)]
    Unavailable(Arc<GpuError>),
}

pub(super) fn force_cpu() -> bool {
    std::env::var("REDUB_FORCE_CPU").is_ok_and(|v| v == "1")
}

fn software_allowed() -> bool {
    std::env::var("REDUB_SOFTWARE_GPU").is_ok_and(|v| v == "1")
}

fn adapter_label(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?})", info.name, info.backend)
}

/// A software rasteriser is refused unless `allow_software` (see [`GpuCompositor::new`]).
fn check_adapter(info: &wgpu::AdapterInfo, allow_software: bool) -> Result<(), GpuError> {
    if info.device_type == wgpu::DeviceType::Cpu && !allow_software {
        return Err(GpuError::NoAdapter(format!(
            "only a software adapter, {}: the CPU compositor is faster \
             (REDUB_SOFTWARE_GPU=1 uses it)",
            adapter_label(info)
        )));
    }
    Ok(())
}

static SHARED: OnceLock<Result<Arc<GpuCompositor>, Arc<GpuError>>> = OnceLock::new();

/// Makes the editor's wgpu device the process's compositor (see [`GpuCompositor::shared`]);
/// the first call wins, later ones and calls after a renderer opened its own are ignored.
/// Returns what [`GpuCompositor::shared`] will give, as text for the log.
pub fn install_shared(
    adapter: &wgpu::AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
) -> String {
    let r = SHARED.get_or_init(|| {
        GpuCompositor::with_device(adapter, device, queue, software_allowed())
            .map(Arc::new)
            .map_err(Arc::new)
    });
    match r {
        Ok(g) => format!("lip compositor: GPU ({})", g.adapter_name()),
        Err(e) => format!("lip compositor: CPU ({e})"),
    }
}

/// A wgpu device with the compositor pipeline.
pub struct GpuCompositor {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    adapter: String,
}

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

impl GpuCompositor {
    /// Opens the first hardware adapter. A software rasteriser (Mesa lavapipe/llvmpipe) is
    /// skipped: on the same cores the CPU reference composites several times faster (measured by
    /// `redub bench --composite`), so export and preview are better off on the CPU path there;
    /// `REDUB_SOFTWARE_GPU=1` uses it anyway.
    pub fn new() -> Result<Self, GpuError> {
        Self::open(software_allowed())
    }

    /// Opens the first adapter, software ones included (tests and benchmarks on machines
    /// without a GPU).
    pub fn new_allow_software() -> Result<Self, GpuError> {
        Self::open(true)
    }

    fn open(allow_software: bool) -> Result<Self, GpuError> {
        if force_cpu() {
            return Err(GpuError::Disabled);
        }
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        }))
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        check_adapter(&info, allow_software)?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("redub compositor"),
            ..Default::default()
        }))
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        Self::on_device(device, queue, adapter_label(&info))
    }

    /// The compositor on a device someone else opened (the editor's: eframe's wgpu device, so
    /// the viewer's frames are composited where the window draws them). A software adapter is
    /// refused unless `allow_software`.
    pub fn with_device(
        adapter: &wgpu::AdapterInfo,
        device: wgpu::Device,
        queue: wgpu::Queue,
        allow_software: bool,
    ) -> Result<Self, GpuError> {
        if force_cpu() {
            return Err(GpuError::Disabled);
        }
        check_adapter(adapter, allow_software)?;
        Self::on_device(
            device,
            queue,
            format!("{}, shared with the editor", adapter_label(adapter)),
        )
    }

    /// The process's compositor: the one [`install_shared`] was given, else the first
    /// [`GpuCompositor::new`] opened — one device and pipeline for every lip renderer of the
    /// process (each export and each re-plan of the preview used to open its own device).
    /// wgpu's error scopes are per thread, so the export and viewer threads can share it.
    pub fn shared() -> Result<Arc<Self>, GpuError> {
        if force_cpu() {
            return Err(GpuError::Disabled);
        }
        SHARED
            .get_or_init(|| Self::new().map(Arc::new).map_err(Arc::new))
            .clone()
            .map_err(GpuError::Unavailable)
    }

    fn on_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter_name: String,
    ) -> Result<Self, GpuError> {
        // Validation errors must become a CPU fallback, not wgpu's default panic.
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("compositor"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shader.wgsl").into()),
        });
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("compositor"),
            entries: &[
                texture_entry(0),
                texture_entry(1),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("compositor"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("compositor"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format: FORMAT,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Failed(e.to_string()));
        }
        Ok(Self { device, queue, pipeline, layout, adapter: adapter_name })
    }

    /// The adapter's name and API.
    pub fn adapter_name(&self) -> &str {
        &self.adapter
    }

    fn frame_texture(&self, width: u32, height: u32, label: &str) -> wgpu::Texture {
        self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: FORMAT,
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        })
    }

    /// Blends the layers into `frame` (RGBA, `width × height`) in place.
    pub fn composite(
        &self,
        frame: &mut [u8],
        width: usize,
        height: usize,
        layers: &[PatchLayer<'_>],
    ) -> Result<(), GpuError> {
        if layers.is_empty() {
            return Ok(());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let result = self.composite_scoped(frame, width, height, layers);
        match pollster::block_on(scope.pop()) {
            Some(e) => Err(GpuError::Failed(e.to_string())),
            None => result,
        }
    }

    fn composite_scoped(
        &self,
        frame: &mut [u8],
        width: usize,
        height: usize,
        layers: &[PatchLayer<'_>],
    ) -> Result<(), GpuError> {
        // Only the part of the frame the layers can change travels to the GPU and back.
        let Some(Rect { x0, y0, x1, y1 }) = footprint(layers, width, height) else { return Ok(()) };
        let (w, h) = ((x1 - x0) as u32, (y1 - y0) as u32);
        let mut textures =
            [self.frame_texture(w, h, "frame a"), self.frame_texture(w, h, "frame b")];
        let extent = wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 };
        self.queue.write_texture(
            textures[0].as_image_copy(),
            frame,
            wgpu::TexelCopyBufferLayout {
                offset: ((y0 * width + x0) * 4) as u64,
                bytes_per_row: Some(4 * width as u32),
                rows_per_image: Some(h),
            },
            extent,
        );
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("composite") });
        let mut keep = Vec::new();
        for layer in layers {
            // The patch may have any detail (see `analysis::mouth_patch::detail_dims`).
            let (pw, ph) = dims_of(layer.patch.rgb.len());
            let patch_extent =
                wgpu::Extent3d { width: pw as u32, height: ph as u32, depth_or_array_layers: 1 };
            // Premultiplied, 0..1: colour × alpha in rgb, alpha in a.
            let texels: Vec<f32> = layer
                .patch
                .rgb
                .iter()
                .zip(layer.alpha)
                .flat_map(|(c, &a)| [c[0] / 255.0 * a, c[1] / 255.0 * a, c[2] / 255.0 * a, a])
                .collect();
            let patch = self.device.create_texture_with_data(
                &self.queue,
                &wgpu::TextureDescriptor {
                    label: Some("patch"),
                    size: patch_extent,
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: wgpu::TextureFormat::Rgba32Float,
                    usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[],
                },
                wgpu::util::TextureDataOrder::LayerMajor,
                bytemuck_f32(&texels),
            );
            let inv = layer.to_image.inverse();
            let mut params = Vec::with_capacity(32);
            for v in [inv.a, inv.b, inv.tx, inv.ty] {
                params.extend_from_slice(&v.to_le_bytes());
            }
            for v in [pw as i32, ph as i32, x0 as i32, y0 as i32] {
                params.extend_from_slice(&v.to_le_bytes());
            }
            let uniform = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &params,
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let src_view = textures[0].create_view(&Default::default());
            let patch_view = patch.create_view(&Default::default());
            let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("compositor"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&src_view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(&patch_view),
                    },
                    wgpu::BindGroupEntry { binding: 2, resource: uniform.as_entire_binding() },
                ],
            });
            let dst_view = textures[1].create_view(&Default::default());
            {
                let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("composite"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &dst_view,
                        depth_slice: None,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Load,
                            store: wgpu::StoreOp::Store,
                        },
                    })],
                    depth_stencil_attachment: None,
                    timestamp_writes: None,
                    occlusion_query_set: None,
                    multiview_mask: None,
                });
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &bind, &[]);
                pass.draw(0..3, 0..1);
            }
            textures.swap(0, 1);
            keep.push((patch, uniform));
        }
        // Read back the last result (now in textures[0]); rows are padded to 256 bytes.
        let padded = (4 * w).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(padded) * u64::from(h),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        encoder.copy_texture_to_buffer(
            textures[0].as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(h),
                },
            },
            extent,
        );
        self.queue.submit([encoder.finish()]);
        let slice = readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Failed(e.to_string()))?;
        rx.recv()
            .map_err(|e| GpuError::Failed(e.to_string()))?
            .map_err(|e| GpuError::Failed(e.to_string()))?;
        {
            let data = slice.get_mapped_range().map_err(|e| GpuError::Failed(format!("{e:?}")))?;
            let rw = 4 * w as usize;
            for (row, out) in
                frame.chunks_exact_mut(4 * width).skip(y0).take(h as usize).enumerate()
            {
                let start = row * padded as usize;
                out[4 * x0..4 * x0 + rw].copy_from_slice(&data[start..start + rw]);
            }
        }
        readback.unmap();
        Ok(())
    }
}

fn bytemuck_f32(v: &[f32]) -> &[u8] {
    // f32 has no padding and any bit pattern is a valid u8 sequence.
    // SAFETY: the slice covers exactly `len * 4` initialised bytes of the same allocation.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}
