//! Moving bytes between hosts: stdin-fed remote commands, and the tar
//! stream relayed from the source host into the target host.

use nfops_core::Result;
use nfops_fleet::ssh::{RemoteProcess, RemoteStdin};
use nfops_fleet::{shell_quote, SshSession};

use super::manifest::Entry;
use super::plan::Plan;
use super::{not_intact, Ends, OnProgress, IDLE, MAX_LISTING};

/// NUL-ended `./path` records, as `tar -T`, `xargs -0` and `cp` want them.
pub(super) fn nul_paths<'e>(entries: impl Iterator<Item = &'e Entry>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(b"./");
        out.extend_from_slice(&e.path);
        out.push(0);
    }
    out
}

/// Runs `cmd` on `session` with `input` as its stdin, reading its output at
/// the same time; returns stdout.
pub(super) async fn run_with_input(
    session: &SshSession,
    cmd: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    let mut p = session.exec_stream(cmd, IDLE).await?;
    let stdin = p.take_stdin()?;
    let send = async move {
        for chunk in input.chunks(64 * 1024) {
            stdin.write(chunk).await?;
        }
        stdin.close().await
    };
    let remote = async move {
        let out = p.read_to_end(MAX_LISTING).await?;
        p.finish().await?;
        Ok(out)
    };
    together(send, remote).await
}

/// Drives `work` (writing to a remote command) and `remote` (reading it to
/// its end) together. When the remote command ends first, what was still to
/// be written is abandoned (a failed command stops reading, and its exit
/// status says why); otherwise a remote failure wins over a local one, as it
/// names the cause.
pub(super) async fn together<T>(
    work: impl std::future::Future<Output = Result<()>>,
    remote: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::pin!(work, remote);
    tokio::select! {
        r = &mut remote => r,
        w = &mut work => {
            let r = remote.await;
            match (w, r) {
                (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
                (Ok(()), Ok(t)) => Ok(t),
            }
        }
    }
}

/// The tar stream: source `tar -c` of the planned entries, relayed chunk by
/// chunk into target `tar -x`.
pub(super) async fn stream(
    ends: &Ends<'_>,
    id: &str,
    src_dir: &str,
    releases: &str,
    inc: &str,
    plan: &Plan<'_>,
    progress: OnProgress<'_>,
) -> Result<()> {
    let mut src = ends
        .source
        .exec_stream(
            &format!(
                "cd -- {} && tar -cf - --format=gnu --no-recursion --null --verbatim-files-from -T -",
                shell_quote(src_dir)
            ),
            IDLE,
        )
        .await?;
    let mut dst = ends
        .target
        .exec_stream(
            &format!(
                "cd -- {}/{}/tree && tar -xpf - --no-same-owner",
                shell_quote(releases),
                shell_quote(inc)
            ),
            IDLE,
        )
        .await?;
    let list = nul_paths(plan.stream.iter().copied());
    let src_in = src.take_stdin()?;
    let dst_in = dst.take_stdin()?;
    let total = plan.bytes;
    let send_list = async move {
        for chunk in list.chunks(64 * 1024) {
            src_in.write(chunk).await?;
        }
        src_in.close().await
    };
    let relay = async move {
        let moved = relay(&mut src, &dst_in, total, progress).await;
        // End of file either way: a cut stream makes the target's tar fail.
        let closed = dst_in.close().await;
        moved?;
        closed?;
        src.finish().await.map(drop)
    };
    let work = async {
        let (listed, relayed) = tokio::join!(send_list, relay);
        relayed.and(listed)
    };
    together(work, dst.finish())
        .await
        .map(drop)
        .map_err(|e| not_intact(ends, id, e.message().to_owned()))
}

pub(super) async fn relay(
    src: &mut RemoteProcess,
    dst: &RemoteStdin,
    total: u64,
    progress: OnProgress<'_>,
) -> Result<()> {
    let (mut moved, mut shown) = (0u64, 0u64);
    while let Some(chunk) = src.read().await? {
        dst.write(&chunk).await?;
        moved += chunk.len() as u64;
        if moved - shown >= 4 * 1024 * 1024 {
            progress(moved.min(total), total);
            shown = moved;
        }
    }
    progress(total, total);
    Ok(())
}
