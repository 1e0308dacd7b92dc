// MregML: data, preprocessing, trainers, model formats, metrics.
