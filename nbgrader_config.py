"""nbgrader configuration for the course.

Run nbgrader from the repository root: a relative gradebook path resolved from
anywhere else silently creates an empty database.

    solutions/NN_topic/NN_topic.ipynb   instructor source (solutions, hidden tests, points)
    exercises/NN_topic/NN_topic.ipynb   student version, generated: `make exercises`
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Student code sometimes loops forever; a cell that runs past this is stopped
# and the notebook is still graded.
c.ExecutePreprocessor.timeout = 120

# What a student sees in place of a solution region.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
