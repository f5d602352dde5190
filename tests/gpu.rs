//! GPU compositor vs the CPU reference on random frames, patches, transforms and masks. Runs on
//! whatever adapter wgpu finds: Mesa lavapipe (software Vulkan, installed by the set-up) here.

use redub::analysis::mouth_patch::{PATCH_H, PATCH_W, Patch, Similarity};
use redub::render::compositor::gpu::GpuCompositor;
use redub::render::compositor::{PatchLayer, composite_cpu};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[test]
fn gpu_matches_cpu_reference() {
    let gpu = match GpuCompositor::new_allow_software() {
        Ok(g) => g,
        Err(e) => {
            panic!("no GPU adapter ({e}); the set-up installs Mesa lavapipe (mesa-vulkan-drivers)")
        }
    };
    check_parity(&gpu);
}

/// The editor hands its own wgpu device to the compositor (`install_shared`): the pipeline built
/// on a device opened elsewhere composites like the reference too, and a software adapter is
/// refused unless allowed.
#[test]
fn compositor_on_a_borrowed_device() {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter (Mesa lavapipe here)");
    let info = adapter.get_info();
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    if info.device_type == wgpu::DeviceType::Cpu {
        let refused =
            GpuCompositor::with_device(&info, device.clone(), queue.clone(), false).err().unwrap();
        println!("software adapter refused: {refused}");
        assert!(refused.to_string().contains("software adapter"), "{refused}");
    }
    let gpu = GpuCompositor::with_device(&info, device, queue, true).unwrap();
    assert!(gpu.adapter_name().contains("shared with the editor"), "{}", gpu.adapter_name());
    check_parity(&gpu);
}

fn check_parity(gpu: &GpuCompositor) {
    println!("adapter: {}", gpu.adapter_name());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut worst = 0u8;
    let mut total_diff = 0u64;
    let mut total_px = 0u64;
    for case in 0..12 {
        let (w, h) = (160 + (rng.next() * 400.0) as usize, 120 + (rng.next() * 300.0) as usize);
        let mut frame: Vec<u8> = (0..w * h * 4).map(|_| (rng.next() * 255.0) as u8).collect();
        for px in frame.chunks_exact_mut(4) {
            px[3] = 255;
        }
        let layers_data: Vec<(Patch, Vec<f32>, Similarity)> = (0..1 + case % 3)
            .map(|_| {
                let patch = Patch {
                    rgb: (0..PATCH_W * PATCH_H)
                        .map(|_| [rng.next() * 255.0, rng.next() * 255.0, rng.next() * 255.0])
                        .collect(),
                };
                // Smooth random alpha, zero on some pixels, exactly 1 on others.
                let (cx, cy, r) = (rng.next() * 128.0, rng.next() * 96.0, 20.0 + rng.next() * 50.0);
                let alpha: Vec<f32> = (0..PATCH_W * PATCH_H)
                    .map(|i| {
                        let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
                        let d = ((u - cx).powi(2) + (v - cy).powi(2)).sqrt();
                        ((r - d) / 10.0).clamp(0.0, 1.0) * if rng.next() < 0.1 { 0.5 } else { 1.0 }
                    })
                    .collect();
                let scale = 0.5 + rng.next() * 2.0;
                let angle = (rng.next() - 0.5) * 0.8;
                let to_image = Similarity {
                    a: scale * angle.cos(),
                    b: scale * angle.sin(),
                    tx: rng.next() * w as f32 * 0.7,
                    ty: rng.next() * h as f32 * 0.7,
                };
                (patch, alpha, to_image)
            })
            .collect();
        let layers: Vec<PatchLayer<'_>> = layers_data
            .iter()
            .map(|(p, a, t)| PatchLayer { patch: p, alpha: a, to_image: *t })
            .collect();
        let mut cpu = frame.clone();
        composite_cpu(&mut cpu, w, h, &layers);
        let mut g = frame.clone();
        gpu.composite(&mut g, w, h, &layers).expect("GPU composite");
        for (a, b) in cpu.iter().zip(&g) {
            let d = a.abs_diff(*b);
            worst = worst.max(d);
            total_diff += u64::from(d);
        }
        total_px += (w * h * 4) as u64;
        assert_ne!(cpu, frame, "case {case} changed something");
    }
    let mean = total_diff as f64 / total_px as f64;
    println!("GPU vs CPU: max abs diff {worst}/255, mean {mean:.4}/255");
    assert!(worst <= 2, "max abs difference {worst}/255");
    assert!(mean <= 0.5, "mean difference {mean}/255");
}
