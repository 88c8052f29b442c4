//! Ctrl-C and SIGTERM for long work that must end cleanly (put configuration back, stop a lab).

/// Ctrl-C and SIGTERM, remembered: a signal that arrives while nothing waits for it is not lost,
/// so every phase of a command (setup, load, restore) can ask whether one came.
#[derive(Clone)]
pub struct Interrupt(tokio::sync::watch::Receiver<bool>);

impl Interrupt {
    /// Starts listening; from now on these signals no longer end the process by themselves.
    pub fn listen() -> Interrupt {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).ok();
            let term = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
            }
            let _ = tx.send(true);
        });
        Interrupt(rx)
    }

    pub fn happened(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a signal has come (at once if one already did).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|&v| v).await;
    }
}
