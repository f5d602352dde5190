//! Undo/redo stacks of [`Edit`]s. Each step stores the edits and their inverses; the inverse is
//! recorded from `apply`, so undo never needs a snapshot. A gesture (a drag) collects many small
//! edits into one step.

use super::Project;
use super::edit::{Edit, EditError};

/// A step that could not be undone or redone (an edit of it no longer applies). The project is
/// left as it was before the attempt and the step stays where it was.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} \"{label}\": {source}")]
pub struct HistoryError {
    /// "undo" or "redo".
    pub action: &'static str,
    /// The step's label.
    pub label: String,
    /// Why its edit failed.
    #[source]
    pub source: EditError,
}

/// One undoable step.
#[derive(Clone, Debug)]
struct Step {
    label: String,
    /// Inverses in the order they must be applied to undo the step.
    undo: Vec<Edit>,
    /// Serial number: identifies the project state after this step (for the saved marker).
    serial: u64,
}

/// An open gesture: edits applied so far and their inverses.
#[derive(Clone, Debug)]
struct Gesture {
    label: String,
    undo: Vec<Edit>,
}

/// The undo and redo stacks of a project.
#[derive(Clone, Debug, Default)]
pub struct History {
    undo: Vec<Step>,
    redo: Vec<Step>,
    gesture: Option<Gesture>,
    next_serial: u64,
    saved_serial: u64,
}

impl History {
    /// An empty history whose current state counts as saved.
    pub fn new() -> Self {
        Self { next_serial: 1, ..Self::default() }
    }

    fn current_serial(&self) -> u64 {
        self.undo.last().map_or(0, |s| s.serial)
    }

    /// Applies an edit and records it (in the open gesture, if any). Clears the redo stack.
    pub fn apply(
        &mut self,
        project: &mut Project,
        edit: Edit,
        label: &str,
    ) -> Result<(), EditError> {
        let inverse = edit.apply(project)?;
        if let Some(g) = &mut self.gesture {
            g.undo.insert(0, inverse);
        } else {
            self.push(label.to_string(), vec![inverse]);
        }
        Ok(())
    }

    fn push(&mut self, label: String, undo: Vec<Edit>) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.undo.push(Step { label, undo, serial });
        self.redo.clear();
    }

    /// Starts a gesture: edits until [`History::end_gesture`] become one undo step.
    /// A gesture already open is ended first.
    pub fn begin_gesture(&mut self, label: &str) {
        self.end_gesture();
        self.gesture = Some(Gesture { label: label.to_string(), undo: Vec::new() });
    }

    /// Ends the open gesture, recording it as one step if it changed anything.
    pub fn end_gesture(&mut self) {
        if let Some(g) = self.gesture.take()
            && !g.undo.is_empty()
        {
            self.push(g.label, g.undo);
        }
    }

    /// Reverts everything done in the open gesture and forgets it (Escape during a drag).
    pub fn cancel_gesture(&mut self, project: &mut Project) {
        if let Some(g) = self.gesture.take() {
            for inv in &g.undo {
                let _ = inv.apply(project);
            }
        }
    }

    /// Whether a gesture is open.
    pub fn in_gesture(&self) -> bool {
        self.gesture.is_some()
    }

    /// Undoes the last step; returns its label, or `None` when there is nothing to undo. When
    /// an edit of the step fails, the edits already reverted are applied again, the step stays
    /// on the undo stack and the error says which step could not be undone.
    pub fn undo(&mut self, project: &mut Project) -> Result<Option<String>, HistoryError> {
        self.end_gesture();
        let Some(step) = self.undo.pop() else { return Ok(None) };
        match Self::run(project, &step.undo) {
            Ok(redo) => {
                self.redo.push(Step { label: step.label.clone(), undo: redo, serial: step.serial });
                Ok(Some(step.label))
            }
            Err(source) => {
                let label = step.label.clone();
                self.undo.push(step);
                Err(HistoryError { action: "undo", label, source })
            }
        }
    }

    /// Redoes the last undone step; returns its label (`None` when there is nothing to redo).
    /// A failure leaves the project and the stacks as they were, like [`History::undo`].
    pub fn redo(&mut self, project: &mut Project) -> Result<Option<String>, HistoryError> {
        self.end_gesture();
        let Some(step) = self.redo.pop() else { return Ok(None) };
        match Self::run(project, &step.undo) {
            Ok(undo) => {
                self.undo.push(Step { label: step.label.clone(), undo, serial: step.serial });
                Ok(Some(step.label))
            }
            Err(source) => {
                let label = step.label.clone();
                self.redo.push(step);
                Err(HistoryError { action: "redo", label, source })
            }
        }
    }

    /// Applies edits in order and returns the inverses in the order that reverts them. When an
    /// edit fails, the ones applied before it are reverted (the project is as it was) and the
    /// error is returned: a step is undone whole or not at all.
    fn run(project: &mut Project, edits: &[Edit]) -> Result<Vec<Edit>, EditError> {
        let mut inverses = Vec::with_capacity(edits.len());
        for e in edits {
            match e.apply(project) {
                Ok(inverse) => inverses.push(inverse),
                Err(err) => {
                    for inv in inverses.iter().rev() {
                        // The inverse of an edit that just applied applies to its result.
                        let _ = inv.apply(project);
                    }
                    return Err(err);
                }
            }
        }
        inverses.reverse();
        Ok(inverses)
    }

    /// Label of the step that undo would revert.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|s| s.label.as_str())
    }

    /// Label of the step that redo would repeat.
    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|s| s.label.as_str())
    }

    /// Number of steps that can be undone.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    /// Number of steps that can be redone.
    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }

    /// Marks the current state as the saved one.
    pub fn mark_saved(&mut self) {
        self.saved_serial = self.current_serial();
    }

    /// Whether the project differs from the last saved state (undoing back to it makes it clean).
    pub fn is_dirty(&self) -> bool {
        self.gesture.as_ref().is_some_and(|g| !g.undo.is_empty())
            || self.current_serial() != self.saved_serial
    }

    /// Marks the state as never saved (a recovered autosave).
    pub fn mark_unsaved(&mut self) {
        self.saved_serial = u64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FrameRate, Marker, Time};

    fn marker(ms: i64) -> Edit {
        Edit::SetMarkers(vec![Marker { time: Time::from_millis(ms), name: String::new() }])
    }

    #[test]
    fn undo_redo_and_dirty_state() {
        let mut p = Project::new("p", FrameRate::FPS_25);
        let orig = p.clone();
        let mut h = History::new();
        assert!(!h.is_dirty());
        h.apply(&mut p, Edit::SetName("a".into()), "rename").unwrap();
        h.apply(&mut p, marker(5), "marker").unwrap();
        assert!(h.is_dirty());
        h.mark_saved();
        assert!(!h.is_dirty());
        let after = p.clone();
        assert_eq!(h.undo(&mut p).unwrap().as_deref(), Some("marker"));
        assert!(h.is_dirty());
        assert_eq!(h.undo(&mut p).unwrap().as_deref(), Some("rename"));
        assert_eq!(p, orig);
        assert_eq!(h.undo(&mut p).unwrap(), None);
        h.redo(&mut p).unwrap();
        h.redo(&mut p).unwrap();
        assert_eq!(p, after);
        assert!(!h.is_dirty(), "redo back to the saved state is clean");
    }

    #[test]
    fn a_gesture_is_one_step_and_cancel_reverts_it() {
        let mut p = Project::new("p", FrameRate::FPS_25);
        let orig = p.clone();
        let mut h = History::new();
        h.begin_gesture("drag");
        for ms in [1, 2, 3, 4] {
            h.apply(&mut p, marker(ms), "").unwrap();
        }
        h.end_gesture();
        assert_eq!(h.undo_len(), 1);
        h.undo(&mut p).unwrap();
        assert_eq!(p, orig);
        h.begin_gesture("drag");
        h.apply(&mut p, marker(9), "").unwrap();
        h.cancel_gesture(&mut p);
        assert_eq!(p, orig);
        assert_eq!(h.undo_len(), 0);
    }

    #[test]
    fn new_edit_clears_redo() {
        let mut p = Project::new("p", FrameRate::FPS_25);
        let mut h = History::new();
        h.apply(&mut p, marker(1), "m").unwrap();
        h.undo(&mut p).unwrap();
        assert_eq!(h.redo_len(), 1);
        h.apply(&mut p, marker(2), "m").unwrap();
        assert_eq!(h.redo_len(), 0);
    }

    #[test]
    fn a_failed_undo_step_stops_leaves_the_project_and_says_so() {
        let mut p = Project::new("p", FrameRate::FPS_25);
        let mut h = History::new();
        h.apply(&mut p, Edit::SetName("a".into()), "rename").unwrap();
        h.apply(&mut p, marker(5), "marker").unwrap();
        // A two-edit gesture whose second inverse no longer applies (the project lost what it
        // names since): undoing it must neither half-apply nor drop the step.
        h.begin_gesture("both");
        h.apply(&mut p, Edit::SetName("b".into()), "").unwrap();
        h.apply(&mut p, marker(7), "").unwrap();
        h.end_gesture();
        let step = h.undo.last_mut().unwrap();
        step.undo.push(Edit::RemoveClip { clip: crate::model::ClipId(99) });
        let before = p.clone();
        let err = h.undo(&mut p).unwrap_err();
        assert_eq!((err.action, err.label.as_str()), ("undo", "both"));
        assert!(err.to_string().starts_with("cannot undo \"both\""), "{err}");
        assert_eq!(p, before, "the project is as it was");
        assert_eq!((h.undo_len(), h.redo_len()), (3, 0), "the step stays");
        assert_eq!(h.undo_label(), Some("both"));
    }
}
