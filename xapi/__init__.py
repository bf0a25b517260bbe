"""xAPI producer: learning events -> tincan statements -> the college's LRS.

No Flask and no LTI here: lti_tool imports xapi, never the reverse (see DESIGN.md).
"""
