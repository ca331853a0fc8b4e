"""Referral queue (coordinators): import, crisis hold, requests and offers, batch assignment,
decisions, export. Renders a QueueState and calls one coordination operation per button."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from matcher import vocabulary as V
from matcher import words as W
from matcher.coordination import (
    QueueState,
    Status,
    WaitTargets,
    accept,
    accept_all,
    answer_offer,
    export_day,
    hold_options,
    matches_for,
    needs_confirmation,
    propose,
    rematch,
    rematch_options,
    reply_to_request,
    review,
    undo_accept_all,
)
from matcher.coordination import release as release_slot  # `release` reads as a verb here
from matcher.explain import (
    CRISIS_STEPS,
    REMATCH_STEP,
    REPAIR_STEP,
    describe_rupture,
    describe_unassigned,
    explain,
)
from matcher.referrals import Referral, read_referrals
from matcher.report import spreadsheet_csv
from matcher.schema import InvalidInput, count_problems
from matcher.scoring import Match
from matcher.store import OFFER_DAYS, Booking, StoreError
from matcher.triage import Outcome
from matcher.ui.auth import coordinator, store
from matcher.ui.common import (
    DEMO_REFERRALS,
    current_directory,
    decision_box,
    plain,
    problems_table,
    therapist_label,
)

actor = coordinator()
db = store()
directory, directory_name = current_directory()
today = date.today()

st.title("Referral queue", anchor=False)
st.caption(plain(f"Matching against {directory_name} ({len(directory):,} therapists)."))


def therapist_name(therapist_id: str) -> str:
    return therapist_label(directory, therapist_id)


def offer_label(asked: frozenset[str], therapist_id: str) -> str:
    return therapist_name(therapist_id) + (
        " (asked for)" if therapist_id in asked else " (alternate)"
    )


def client_label(referral: Referral) -> str:
    """'R00012 (J.)': the id with the client's name or initials when the referral has one."""
    name = referral.client_name
    return f"{referral.referral_id} ({name})" if name else referral.referral_id


def sentence(text: str) -> str:
    """A reason written to follow "because" ("no therapist licensed in …") shown on its own."""
    return text[:1].upper() + text[1:]


def import_file(path: Path) -> None:
    try:
        queue = read_referrals(path)
    except InvalidInput as error:
        st.error(
            f"Nothing was imported: {count_problems(error.problems):,} problem(s) in the file."
        )
        problems_table(error.problems)
        return
    result = db.import_referrals(queue, actor)
    st.success(
        f"Imported {result.added} new referral(s); {result.unchanged} were already in the "
        "queue and were left unchanged."
    )


def show_contact(contact: str) -> None:
    """How to reach a client, alone in a block with a copy button: copied, it is exactly what
    the client gave (Markdown's guards put an invisible U+2060 before an email's "@", and a
    label beside it was copied too: found trying the app)."""
    if contact:
        st.code(contact, language=None)


def decide(action: Callable[[], object], done: str, where: str) -> None:
    """Run one store decision; say why it was refused, or refresh the page and confirm it in
    the section ``where`` it was made (see ``confirmation``). A new assignment's confirmation
    gives its check-in code, which the client needs and has no other way to get."""
    try:
        outcome = action()
    except StoreError as error:
        st.error(plain(str(error)))
        return
    if isinstance(outcome, Booking):
        done += (f" Give the client their check-in code, {outcome.checkin_code}: they enter it "
                 "on the check-in page after each session (it is also in the queue's table).")  # fmt: skip
    st.session_state["flash"] = (where, done)
    st.rerun()


def confirmation(where: str | None) -> None:
    """The last decision's confirmation, drawn at the top of the section ``where`` it was made
    (None: at the foot of the page, when that section is gone with the decision) and scrolled
    into view: the button pressed may be thousands of pixels down a long page."""
    flash = st.session_state.get("flash")
    if not flash or where not in (None, flash[0]):
        return
    del st.session_state["flash"]
    decision_box().success(plain(flash[1]))


# ---------------------------------------------------------------------------------------------
# Import

stored = db.referrals()
# Open until a referral file was imported: a self-referral alone must not hide the import.
with st.expander("Import referrals", expanded=all(r.source == "self" for r in stored)):
    upload = st.file_uploader("Referral queue (CSV)", type=["csv"], key="referrals_upload")
    if upload is not None and st.session_state.get("referrals_seen") != upload.file_id:
        st.session_state["referrals_seen"] = upload.file_id
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            import_file(path)
    if st.button("Import the demo referral queue", key="import_demo"):
        import_file(DEMO_REFERRALS)
    stored = db.referrals()

if not stored:
    st.info("The queue is empty. Import a referral file to begin.")
    st.stop()

# The wait targets' inputs are drawn with the queue table; their values are read here first.
defaults = WaitTargets()
URGENCY_LEVELS = ("urgent", "soon", "routine")
targets = WaitTargets(
    **{u: int(st.session_state.get(f"target_{u}", getattr(defaults, u))) for u in URGENCY_LEVELS}
)
state = QueueState.from_store(db, directory, today, targets)
assigned_to, codes = state.assigned_to, state.codes

# ---------------------------------------------------------------------------------------------
# A worrying check-in (feeling safe rated low, or words of danger in a comment) comes first

alarmed = state.with_status(Status.ALARM)
if alarmed:
    with st.container(border=True):
        st.error(
            f"{len(alarmed)} client(s) sent a check-in that calls for a person now. Follow the "
            "crisis steps.",
            icon=":material/emergency:",
        )
        st.markdown("\n".join(f"{i}. {step}" for i, step in enumerate(CRISIS_STEPS, start=1)))
        for r in alarmed:
            st.markdown(plain(f"{client_label(r)} — with "
                              f"{therapist_name(state.assigned_to[r.referral_id])}"))  # fmt: skip
            show_contact(r.contact)
            for checkin in state.commented.get(r.referral_id, ()):
                st.text(f"Session {checkin.session}: {checkin.comment}")  # never markdown

# ---------------------------------------------------------------------------------------------
# Crisis hold: never auto-assigned

held = state.with_status(Status.CRISIS_HOLD)
if held:
    with st.container(border=True):
        confirmation("held")
        # one reference a line: in a sentence, one broke across lines at its hyphen ("SR-")
        st.error(
            f"{len(held)} referral(s) flagged for risk are held for the crisis protocol and "
            "will not be auto-assigned:  \n" + "  \n".join(plain(r.referral_id) for r in held),
            icon=":material/emergency:",
        )
        st.markdown("\n".join(f"{i}. {step}" for i, step in enumerate(CRISIS_STEPS, start=1)))
        for r in held:
            due = state.review_by(r)
            seen = state.reviewed.get(r.referral_id)
            when = f"last reviewed {W.day(seen)}; " if seen else "not reviewed yet; "
            line = f"{client_label(r)} — {when}next review by {W.day(due) if due else ''}"
            if state.review_overdue(r):
                st.error(plain(f"{line}: overdue"), icon=":material/schedule:")
            else:
                st.markdown(plain(line))
            show_contact(r.contact)
        st.caption("Once a clinician has reviewed the risk, record it, or assign the referral "
                   "by hand here.")  # fmt: skip
        hold = st.selectbox("Held referral", [r.referral_id for r in held],
                            format_func=lambda rid: client_label(state.by_id[rid]),
                            key="hold_pick")  # fmt: skip
        referral = next(r for r in held if r.referral_id == hold)
        if st.button("Reviewed today", key="hold_reviewed"):
            decide(partial(review, db, hold, actor), f"{client_label(referral)}: review recorded.",
                   "held")  # fmt: skip
        best = hold_options(state, directory, referral)
        if best:
            hold_to = st.selectbox(
                "Therapist", [m.therapist_id for m in best], format_func=therapist_name,
                key="hold_therapist",
            )  # fmt: skip
            note = st.text_input("What was done under the protocol", key="hold_note")
            if st.button("Assign after the crisis protocol", key="hold_assign"):
                reason = f"after crisis protocol: {note}" if note.strip() else ""
                decide(
                    partial(accept, db, state, hold, hold_to, actor, kind="override",
                            reason=reason),
                    f"{client_label(referral)} assigned to {therapist_name(hold_to)} after the "
                    "protocol.",
                    "held",
                )  # fmt: skip
        else:
            st.caption("No therapist who fits has a free slot right now.")

# ---------------------------------------------------------------------------------------------
# Ruptures from check-ins: repair first, rematch if it happens again

by_id = state.by_id
strained = state.ruptures
if strained or state.commented:
    st.header("Relationships that need attention", anchor=False)
    confirmation("ruptures")
    st.caption("Ruptures in check-ins, and every comment a client wrote, newest session last.")
    for rid in sorted(set(strained) | set(state.commented)):
        current = assigned_to[rid]
        strain = strained.get(rid)
        with st.container(border=True):
            what = describe_rupture(strain.last) if strain else "a comment in a check-in."
            st.markdown(plain(f"{client_label(by_id[rid])} with {therapist_name(current)}: "
                              f"{what}"))  # fmt: skip
            for checkin in state.commented.get(rid, ()):
                st.text(f"Session {checkin.session}: {checkin.comment}")  # never markdown
            if strain is None:
                continue
            if strain.step == "repair":
                st.markdown(plain(REPAIR_STEP))
                continue
            st.warning(plain(REMATCH_STEP.format(n=strain.ruptures)))
            choices = rematch_options(state, directory, rid)
            if not choices:
                st.caption("No other therapist who fits has a free slot right now.")
                continue
            new = st.selectbox("Rematch to", choices, format_func=therapist_name,
                               key=f"rematch_pick_{rid}")  # fmt: skip
            if st.button("Rematch", key=f"rematch_{rid}"):
                decide(
                    partial(rematch, db, state, rid, new, actor,
                            "rematch after repeated ruptures in check-ins"),
                    f"{client_label(state.by_id[rid])} rematched to {therapist_name(new)}.",
                    "ruptures",
                )  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Consultation requests from the app: offer a slot, then record the client's answer

requests = [r for r in state.referrals if r.source == "self" and r.referral_id not in assigned_to
            and not r.crisis]  # fmt: skip
if requests:
    st.header("Consultation requests", anchor=False)
    confirmation("requests")
    st.caption(
        "Clients who asked from the app to be contacted. Offer a slot with a therapist they "
        "chose (or an alternate); the slot is held for them until they answer or the offer "
        "lapses. Reach them by the contact they gave."
    )
    for r in requests:
        rid = r.referral_id
        with st.container(border=True):
            # plain() escapes asterisks, so the bold is ours, outside the client's text
            waited = r.waiting_days(today)
            since = "asked today" if waited == 0 else f"waiting {waited} day(s)"
            st.markdown(f"**{plain(client_label(r))}** · " + plain(since))
            show_contact(r.contact)
            st.markdown(plain("Asked for: " + ", ".join(therapist_name(t) for t in r.chosen)))
            offer = state.offers.get(rid)
            if offer is not None:
                st.info(plain(f"Offered a slot with {therapist_name(offer.therapist_id)} on "
                              f"{W.day(offer.offered_at.date())}; held until "
                              f"{W.day(offer.expires_on)}."))  # fmt: skip
                yes, no = st.columns(2)
                if yes.button("The client accepted", key=f"offer_yes_{rid}"):
                    decide(partial(answer_offer, db, state, rid, True, actor),
                           f"{client_label(r)} accepted: assigned to "
                           f"{therapist_name(offer.therapist_id)}.", "requests")  # fmt: skip
                if no.button("The client declined", key=f"offer_no_{rid}"):
                    decide(partial(answer_offer, db, state, rid, False, actor),
                           f"{client_label(r)} declined; the slot is free again.",
                           "requests")  # fmt: skip
                continue
            free = [t for t in r.chosen if state.slots_left.get(t, 0) > 0]
            alternates = [m.therapist_id for m in hold_options(state, directory, r)
                          if m.therapist_id not in r.chosen]  # fmt: skip
            if not free and not alternates:
                st.caption("Neither the therapists asked for nor anyone else who fits has a "
                           "free slot right now.")  # fmt: skip
                continue
            if not free:
                st.caption("The therapists asked for have no free slot; these alternates do.")
            pick = st.selectbox(
                "Offer a slot with",
                free + alternates,
                format_func=partial(offer_label, frozenset(r.chosen)),
                key=f"offer_pick_{rid}",
            )
            days = st.number_input("Hold it for (days)", min_value=1, max_value=30,
                                   value=OFFER_DAYS, key=f"offer_days_{rid}")  # fmt: skip
            if st.button("Offer this slot", key=f"offer_{rid}"):
                decide(partial(reply_to_request, db, state, rid, pick, actor, int(days)),
                       f"Offer recorded for {client_label(r)}: {therapist_name(pick)}, held "
                       f"{int(days)} day(s). Now contact the client.", "requests")  # fmt: skip

# ---------------------------------------------------------------------------------------------
# The queue


st.header("Queue", anchor=False)
with st.expander("Wait targets"):
    st.caption("Days a referral of each urgency may wait for a therapist before it is flagged.")
    for urgency, column in zip(URGENCY_LEVELS, st.columns(3), strict=True):
        column.number_input(urgency.capitalize(), min_value=1, max_value=365,
                            value=getattr(defaults, urgency), key=f"target_{urgency}")  # fmt: skip
every_status = [str(status) for status in Status]
# Pills on a row of their own: every status ticked, each read whole (in a quarter-width
# multiselect they were cut to "worryi…": found trying the app)
statuses = st.pills("Status", every_status, selection_mode="multi", default=every_status,
                    key="f_status") or []  # fmt: skip
middle, right, far = st.columns(3)
urgencies = middle.multiselect("Urgency", list(V.URGENCIES), default=list(V.URGENCIES),
                               key="f_urgency")  # fmt: skip
states = right.multiselect("State", sorted({r.preferences.state for r in stored}), key="f_state")
concerns = far.multiselect("Concern", list(V.CONCERNS), format_func=V.CONCERNS.__getitem__,
                           key="f_concern")  # fmt: skip
shown = [
    r
    for r in state.referrals
    if state.status(r) in statuses
    and r.urgency in urgencies
    and (not states or r.preferences.state in states)
    and (not concerns or set(concerns) & set(r.preferences.concerns))
]
st.dataframe(
    pd.DataFrame(
        {
            "referral": [r.referral_id for r in shown],
            "client": [r.client_name for r in shown],  # signed-in coordinators only
            "contact": [r.contact for r in shown],
            "from": ["self-referral (app)" if r.source == "self" else "import" for r in shown],
            "asked for": [", ".join(therapist_name(t) for t in r.chosen) for r in shown],
            "status": [str(state.status(r)) for r in shown],
            "urgency": [r.urgency for r in shown],
            "days waiting": [r.waiting_days(today) for r in shown],
            "wait": [f"past the {state.targets.days(r.urgency)}-day target"
                     if state.past_target(r) else "" for r in shown],
            "review by": [(W.day(due) + (" (overdue)" if state.review_overdue(r) else ""))
                          if (due := state.review_by(r)) else "" for r in shown],
            "state": [r.preferences.state for r in shown],
            "concerns": [", ".join(V.CONCERNS[c] for c in r.preferences.concerns)
                         for r in shown],
            "therapist": [therapist_name(assigned_to[r.referral_id]) if r.referral_id in
                          assigned_to else "" for r in shown],
            "check-in code": [codes.get(r.referral_id, "") for r in shown],
            # blank until both sessions have a check-in (the grid showed "None")
            "1st to 2nd session (days)": ["" if (gap := state.second_session_wait(r.referral_id))
                                          is None else str(gap) for r in shown],
        }
    ),
    hide_index=True,
    # What a coordinator acts on first, so a phone shows it without scrolling sideways (the
    # status and wait were off to the right: found trying the app at 390 px)
    column_order=["referral", "status", "urgency", "days waiting", "wait", "client", "contact",
                  "from", "asked for", "review by", "state", "concerns", "therapist",
                  "check-in code", "1st to 2nd session (days)"],
)  # fmt: skip
st.caption(f"{len(shown)} of {len(stored)} referrals shown.")

# ---------------------------------------------------------------------------------------------
# Batch assignment

st.header("Assign", anchor=False)
confirmation("assign")
waiting = state.batchable()
# The choice follows the queue: referrals that start waiting (an import) join it, those that
# stop (an accept) leave it, and a narrowed choice otherwise stays as the coordinator made it.
# (Streamlit forgets a widget's value on a page away from it: then every waiting one again.)
pool = [r.referral_id for r in waiting]
before = st.session_state.get("to_assign_pool")
if "to_assign" not in st.session_state or before is None:
    st.session_state["to_assign"] = pool
elif before != pool:
    kept = set(st.session_state["to_assign"]) | (set(pool) - set(before))
    st.session_state["to_assign"] = [rid for rid in pool if rid in kept]
st.session_state["to_assign_pool"] = pool
chosen = st.multiselect(
    "Referrals to assign (every waiting referral without a risk flag, unless you narrow it; "
    "clients' own requests are answered above, with an offer)",
    pool,
    key="to_assign",
)
if st.button("Propose assignments", type="primary", key="propose", disabled=not chosen):
    bar = st.progress(0.0, text="Scoring referrals…")

    def advance(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scoring referral {done} of {total}")

    outcomes = propose(state, directory, chosen, progress=advance)
    bar.empty()
    st.session_state["proposal"] = outcomes

proposal: list[Outcome] = [
    o
    for o in st.session_state.get("proposal", [])
    if o.referral.referral_id in by_id and o.referral.referral_id not in assigned_to
]


if proposal:
    st.dataframe(
        pd.DataFrame(
            {
                "referral": [client_label(o.referral) for o in proposal],
                "urgency": [o.referral.urgency for o in proposal],
                "proposed therapist": [therapist_name(o.match.therapist_id) if o.match else ""
                                       for o in proposal],
                "match": [f"{o.match.score:.0%}" if o.match else "" for o in proposal],
                "why / why not": [
                    explain(o.match, o.referral.preferences).reasons[0] if o.match
                    else sentence(describe_unassigned(o.unassigned, o.referral.preferences))  # type: ignore[arg-type]
                    for o in proposal
                ],
                "alternates": ["; ".join(f"{therapist_name(c.therapist_id)} ({c.score:.0%})"
                                         for c in o.alternates) for o in proposal],
            }
        ),
        hide_index=True,
        # the reason is the longest text: wide, so it is not cut to a few words
        column_config={"why / why not": st.column_config.TextColumn(width="large")},
    )  # fmt: skip
    proposed = [o for o in proposal if o.match is not None]
    if proposed:
        which = "this referral" if len(proposed) == 1 else f"these {len(proposed)} referrals"
        st.caption(plain(
            f"Accept all books {which} with their proposed therapist in one step; you can undo "
            "it as one step until a check-in arrives."
        ))  # fmt: skip
    if proposed and st.button(f"Accept all {len(proposed)} proposed assignments", key="accept_all"):
        result = accept_all(db, state, proposed, actor)  # one transaction
        refused = [f"{client_label(by_id[r.request.referral_id])}: {r.why}" for r in result.refused]
        st.session_state["last_batch"] = result
        st.session_state["flash"] = ("assign", f"Accepted {len(result.booked)} assignment(s)." + (
            f" Not booked: {'; '.join(refused)}." if refused else ""
        ))  # fmt: skip
        st.rerun()

    st.subheader("Review one referral", anchor=False)
    first_proposed = next((i for i, o in enumerate(proposal) if o.match is not None), 0)
    # When the list changes (accept all, then undo), start again at the first proposal rather
    # than on whichever referral the shorter list happened to leave chosen.
    # Set through session state, not `index`: only that moves what the browser shows, too.
    listed = [o.referral.referral_id for o in proposal]
    if st.session_state.get("review_listed") != listed or "review" not in st.session_state:
        st.session_state["review_listed"] = listed
        st.session_state["review"] = listed[first_proposed]
    pick = st.selectbox("Referral", listed, format_func=lambda rid: client_label(by_id[rid]),
                        key="review")  # fmt: skip
    outcome = next(o for o in proposal if o.referral.referral_id == pick)
    who = client_label(outcome.referral)
    if outcome.match is not None:
        words = explain(outcome.match, outcome.referral.preferences)
        st.markdown(plain(f"Proposed: {therapist_name(outcome.match.therapist_id)}, "
                          f"match {outcome.match.score:.0%}"))  # fmt: skip
        st.markdown("\n".join(f"- {plain(reason)}" for reason in words.reasons))
        match = outcome.match
        if st.button("Accept", key="accept_one"):
            decide(partial(accept, db, state, pick, match.therapist_id, actor, match.score),
                   f"{who} assigned to {therapist_name(match.therapist_id)}.", "assign")  # fmt: skip
    elif outcome.unassigned is not None:
        st.warning(plain(sentence(describe_unassigned(outcome.unassigned,
                                                      outcome.referral.preferences))))  # fmt: skip
    others = matches_for(state, directory, outcome.referral,
                         [c.therapist_id for c in outcome.alternates])  # fmt: skip
    if others:
        proposed_score = outcome.match.score if outcome.match else None

        def option(m: Match) -> str:
            drop = "" if proposed_score is None else (
                f", {W.count(round((proposed_score - m.score) * 100), 'point')} below the proposal"
            )  # fmt: skip
            return f"{therapist_name(m.therapist_id)} — match {m.score:.0%}{drop}"

        alternate = st.selectbox("Or assign an alternate", others, format_func=option,
                                 key="alternate")  # fmt: skip
        st.markdown("\n".join(
            f"- {plain(r)}" for r in explain(alternate, outcome.referral.preferences).reasons
        ))  # fmt: skip
        reason = st.text_input("Reason for choosing the alternate (required)",
                               key="override_reason")  # fmt: skip
        lost = 0 if proposed_score is None else round((proposed_score - alternate.score) * 100)
        risky = proposed_score is not None and needs_confirmation(proposed_score, alternate.score)
        sure = not risky or st.checkbox(
            f"Yes: assign a match {W.count(lost, 'point')} below the proposal", key="override_sure"
        )
        if st.button("Assign the alternate", key="override", disabled=not sure):
            decide(partial(accept, db, state, pick, alternate.therapist_id, actor,
                           alternate.score, "override", reason),
                   f"{who} assigned to {therapist_name(alternate.therapist_id)} (override).",
                   "assign")  # fmt: skip

last = st.session_state.get("last_batch")
undo = f"Undo the last 'accept all' ({len(last.booked)} assignments)" if last else ""
if last is not None and last.booked and st.button(undo, key="undo_all"):
    st.session_state.pop("last_batch", None)
    decide(partial(undo_accept_all, db, last, actor),
               f"Undone: {len(last.booked)} assignment(s) taken back.", "assign")  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Release and export

confirmation("release")
with st.expander("Release an assignment (gives the slot back)"):
    if assigned_to:
        # with whom, so the right one is released (a bare R00001 was easy to mistake)
        chosen_release = st.selectbox(
            "Referral to release", sorted(assigned_to),
            format_func=lambda rid: f"{client_label(by_id[rid])} — with "
                                    f"{therapist_name(assigned_to[rid])}",
            key="release_pick")  # fmt: skip
        why = st.text_input("Reason (required)", key="release_reason")
        if st.button("Release", key="release"):
            decide(partial(release_slot, db, chosen_release, actor, why),
                   f"Released {client_label(by_id[chosen_release])} from "
                   f"{therapist_name(assigned_to[chosen_release])}. The referral waits again, "
                   "and no proposal will offer that therapist for it again.",
                   "release")  # fmt: skip
    else:
        st.caption("Nothing is assigned yet.")

st.header("Export", anchor=False)
day = datetime.now(UTC).date()
todays = export_day(db, state, directory, day)
st.caption(f"{len(todays)} decision(s) recorded today ({W.day(day)}, UTC).")
st.download_button(
    "Download today's assignments (CSV)",
    spreadsheet_csv(todays),
    file_name=f"assignments-{day.isoformat()}.csv",
    mime="text/csv",
    key="export",
)
confirmation(None)  # a decision whose section went with it
