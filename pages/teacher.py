"""Teacher (classroom mode, the teacher only): every learner's current run, publishing, the class limits."""

import streamlit as st

from cnn_core.access import classroom
from ui import classroom_view, halt, state

st.title("Teacher")
if not classroom.is_teacher(state.owner_id()):  # app.py lists this page for the teacher only; a link is no way in
    st.error("This page is the teacher's.")
    halt()

st.caption("Share the class link with your learners; each sees only their own runs and the runs published to the class.")
st.code(classroom_view.class_link(), language=None)

st.subheader("The class")
classroom_view.class_table()

st.subheader("Publish a run to the class")
classroom_view.publish_picker()

st.subheader("Limits for each learner")
classroom_view.limits_form()
